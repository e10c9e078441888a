// End-to-end: database and remote-desktop sessions from the workspace.
// Debian's Chromium (playwright-core) against a real portcullisd, the real
// PostgreSQL of the machine (psql runs in the server's pty), and the
// protocol-level FAKE guacd of backend/guacgw/fakeguacd (guacd is not packaged
// in Debian: the fake speaks the real Guacamole handshake and sends
// size/img/sync; it renders a small test image, not a real desktop).
//
// alice opens the PostgreSQL asset from My assets: a statement runs, DROP
// DATABASE is denied with a banner and the database survives, a shell escape
// is refused. She opens the Windows asset as a desktop tab: guacamole-common-js
// draws the fake's screen, the clipboard panel follows her permission; the
// admin sees the desktop session live, watches it and kills it with a reason
// that alice's tab shows.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe } from 'node:test'
import { Actor, artifactsDir, launchBrowser, repoRoot } from './lib/browser.mjs'
import { apiOf, stepper } from './lib/harness.mjs'
import { startServer } from './lib/server.mjs'
import { inApp, openMenu, row, submitPassword, visible, waitUntil } from './lib/ui.mjs'

const PASSWORD = { admin: 'Adm1n-Assets-Passw0rd', alice: 'Wonder-Assets-Passw0rd1' }
const DB = `pc_e2e_${randomBytes(4).toString('hex')}`
const KILL_REASON = 'e2e: desktop closed by admin'

let server
let browser
let guacd
const actors = new Map()
const facts = {}
const state = { failed: null }
const { must, login } = apiOf(() => server)
const step = stepper({ suite: 'assets', actors, server: () => server, state })

async function actor(name) {
  if (!actors.has(name)) actors.set(name, await Actor.open(browser, name, server.url))
  return actors.get(name)
}

/** psqlAdmin runs SQL as postgres on the machine's PostgreSQL. */
const psqlAdmin = (sql) =>
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-Atqc', sql], { encoding: 'utf8' })

/** startFakeGuacd runs the fake guacd (bin/fakeguacd, built by make) on a free loopback port. */
async function startFakeGuacd() {
  const bin = process.env.FAKEGUACD || path.join(repoRoot, 'bin', 'fakeguacd')
  const child = spawn(bin, ['-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/listening on (\S+)/)
      if (m) resolve(m[1])
    })
    child.on('exit', (code) => reject(new Error(`fakeguacd exited with ${code}: ${out}`)))
    setTimeout(() => reject(new Error(`fakeguacd did not start: ${out}`)), 15_000)
  })
  return { addr, stop: () => child.kill('SIGTERM') }
}

/** terminalText is what the xterm of the active tab shows. */
const terminalText = (page) => page.getByTestId('terminal-screen').locator('.xterm-rows').innerText()

async function terminalShows(page, text, timeout = 15_000) {
  await waitUntil(async () => (await terminalText(page)).includes(text), {
    timeout,
    message: `"${text}" on the terminal`,
  })
}

async function typeLine(page, line) {
  await page.getByTestId('terminal-screen').click()
  await page.keyboard.type(line, { delay: 10 })
  await page.keyboard.press('Enter')
}

const paneState = (page, testid) => page.getByTestId(testid).getAttribute('data-state')

describe('database and desktop sessions', () => {
  before(async () => {
    psqlAdmin(`CREATE DATABASE ${DB}`)
    guacd = await startFakeGuacd()
    server = await startServer()
    browser = await launchBrowser()

    const admin = await login('admin', server.adminPassword, PASSWORD.admin)
    facts.admin = admin
    await must('PUT', '/settings/desktop', admin, { guacd_addr: guacd.addr, record_keys: false }, 200)
    const alice = await must(
      'POST',
      '/users',
      admin,
      { username: 'alice', password: PASSWORD.alice, must_change_password: false },
      201,
    )
    const platforms = await must('GET', '/platforms?page_size=100', admin, undefined, 200)
    const platform = (name) => platforms.items.find((p) => p.name === name).id
    const pg = await must(
      'POST',
      '/assets',
      admin,
      {
        name: 'pg-e2e',
        address: '127.0.0.1',
        platform_id: platform('PostgreSQL'),
        protocols: [{ name: 'postgresql', port: 5432 }],
        labels: [`database:${DB}`],
      },
      201,
    )
    await must(
      'POST',
      '/accounts',
      admin,
      { asset_id: pg.id, name: 'dba', username: 'postgres', secret_type: 'password', secret: 'Not-Shown-To-Alice-1' },
      201,
    )
    const win = await must(
      'POST',
      '/assets',
      admin,
      {
        name: 'win-e2e',
        address: '192.0.2.80',
        platform_id: platform('Windows'),
        protocols: [{ name: 'rdp', port: 3389 }],
      },
      201,
    )
    await must(
      'POST',
      '/accounts',
      admin,
      {
        asset_id: win.id,
        name: 'Administrator',
        username: 'Administrator',
        secret_type: 'password',
        secret: 'Rdp-E2E-1',
      },
      201,
    )
    await must(
      'POST',
      '/permissions',
      admin,
      {
        name: 'alice pg and win',
        user_ids: [alice.id],
        asset_ids: [pg.id, win.id],
        accounts: ['@ALL'],
        protocols: ['all'],
        actions: ['connect', 'copy'],
      },
      201,
    )
  })

  after(async () => {
    for (const a of actors.values()) await a.close()
    await browser?.close().catch(() => undefined)
    const log = server?.log() ?? ''
    await server?.stop()
    guacd?.stop()
    try {
      psqlAdmin(`DROP DATABASE IF EXISTS ${DB}`)
    } catch {
      // best effort
    }
    await writeFile(path.join(artifactsDir, 'server-assets.log'), log + '\n').catch(() => undefined)
  })

  step('alice: opens PostgreSQL from My assets and runs a statement', async () => {
    const a = await actor('alice')
    await a.goto('/login')
    await submitPassword(a.page, 'alice', PASSWORD.alice)
    await inApp(a.page)
    await visible(row(a.page, 'my-assets', 'pg-e2e'))
    await row(a.page, 'my-assets', 'pg-e2e').getByTestId('my-assets-connect').click()
    await waitUntil(async () => (await paneState(a.page, 'terminal-pane')) === 'connected', {
      message: 'the database terminal to connect',
      timeout: 15_000,
    })
    await terminalShows(a.page, `${DB}=#`)
    await typeLine(a.page, 'select 6*7 as answer;')
    await terminalShows(a.page, '42')
    await a.shot('assets-psql')
  })

  step('alice: DROP DATABASE is denied, the database survives, a shell escape is refused', async () => {
    const a = await actor('alice')
    await typeLine(a.page, `DROP DATABASE ${DB};`)
    const ev = await visible(a.page.getByTestId('terminal-event'))
    assert.equal(await ev.getAttribute('data-kind'), 'denied')
    assert.match(await ev.innerText(), /Deny dangerous SQL/)
    await typeLine(a.page, '\\! id')
    await terminalShows(a.page, 'Refused:')
    await typeLine(a.page, "select 'still-' || 'here';")
    await terminalShows(a.page, 'still-here')
    assert.equal(psqlAdmin(`SELECT count(*) FROM pg_database WHERE datname = '${DB}'`).trim(), '1')
    const cmds = await must('GET', '/commands?page_size=50', facts.admin, undefined, 200)
    const inputs = cmds.items.map((c) => `${c.input} => ${c.verdict}`)
    for (const want of ['select 6*7 as answer; => allowed', `DROP DATABASE ${DB}; => denied`, '\\! id => denied']) {
      assert.ok(inputs.includes(want), `command log lacks "${want}": ${inputs.join(', ')}`)
    }
    const text = await terminalText(a.page)
    assert.ok(!text.includes('Not-Shown-To-Alice-1'), 'the account password was shown')
  })

  step('alice: opens the Windows asset as a desktop tab drawn by guacamole-common-js', async () => {
    const a = await actor('alice')
    await openMenu(a.page, 'my-assets', /My assets/)
    await row(a.page, 'my-assets', 'win-e2e').getByTestId('my-assets-desktop').click()
    const pane = a.page.getByTestId('desktop-pane').last()
    await waitUntil(async () => (await pane.getAttribute('data-state')) === 'connected', {
      message: 'the desktop to connect',
      timeout: 15_000,
    })
    // The fake's screen has the size the tab asked for, and something is drawn on it.
    const canvas = pane.locator('canvas').first()
    await visible(canvas)
    const drawn = await waitUntil(
      async () =>
        canvas.evaluate((c) => {
          const ctx = c.getContext('2d')
          if (!ctx || c.width < 100) return false
          const d = ctx.getImageData(0, 0, Math.min(c.width, 64), Math.min(c.height, 64)).data
          for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true
          return false
        }),
      { message: 'pixels of the remote screen', timeout: 10_000 },
    )
    assert.ok(drawn)
    await pane.getByTestId('desktop-clipboard').click()
    await visible(pane.getByTestId('desktop-clip-panel'))
    assert.equal(await pane.getByTestId('desktop-clip-send').isDisabled(), true, 'paste is not granted')
    await pane.getByTestId('desktop-cad').click()
    await a.shot('assets-desktop')
  })

  step('admin: sees the desktop session live, watches it and kills it; alice sees why', async () => {
    const adm = await actor('admin')
    await adm.goto('/login')
    await submitPassword(adm.page, 'admin', PASSWORD.admin)
    await inApp(adm.page)
    await openMenu(adm.page, 'live', /Live sessions/)
    const r = row(adm.page, 'live', 'alice@win-e2e')
    await visible(r)
    await r.getByTestId('live-watch').click()
    const watch = adm.page.getByTestId('desktop-pane').last()
    await waitUntil(async () => (await watch.getAttribute('data-state')) === 'connected', {
      message: 'the read-only watch to connect',
      timeout: 15_000,
    })
    assert.equal(await watch.getAttribute('data-readonly'), 'true')
    await adm.shot('assets-desktop-watch')
    await adm.page.keyboard.press('Escape')
    await r.getByTestId('live-kill').click()
    await adm.page.getByTestId('live-kill-reason').fill(KILL_REASON)
    await adm.page.getByRole('button', { name: 'Kill' }).last().click()
    const a = await actor('alice')
    const pane = a.page.getByTestId('desktop-pane').last()
    await waitUntil(async () => (await pane.getByTestId('desktop-detail').innerText()).includes(KILL_REASON), {
      message: "the kill reason in alice's desktop tab",
    })
    const sessions = await must('GET', '/sessions?page_size=10', facts.admin, undefined, 200)
    const s = sessions.items.find((x) => x.asset_name === 'win-e2e')
    assert.ok(s && s.kind === 'desktop' && s.ended_at && s.protocol === 'rdp', JSON.stringify(s))
  })
})
