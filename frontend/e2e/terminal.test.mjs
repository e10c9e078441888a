// End-to-end: the web terminal. Debian's Chromium (playwright-core) against a
// real portcullisd and a real OpenSSH sshd on loopback.
//
// Set up through the API: alice may reach web-e2e (the sshd) with a key account,
// a deny rule guards a canary command, and a second organization has its own
// admin. Then, in browsers: alice opens a terminal tab from My assets and runs a
// command; the canary command is denied on screen and never runs; the admin
// watches her session live and kills it with a reason, which her tab shows; the
// other organization's admin sees no session and cannot open a terminal to it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe } from 'node:test'
import { Actor, artifactsDir, launchBrowser, repoRoot } from './lib/browser.mjs'
import { apiOf, stepper } from './lib/harness.mjs'
import { startServer } from './lib/server.mjs'
import { startSshd } from './lib/sshd.mjs'
import { inApp, openMenu, row, submitPassword, visible, waitUntil } from './lib/ui.mjs'

const PASSWORD = { admin: 'Adm1n-Term-Passw0rd', alice: 'Wonder-Term-Passw0rd1', carol: 'Tenant-Term-Passw0rd1' }
const CANARY = `/tmp/pc-e2e-canary-${randomBytes(5).toString('hex')}`
const KILL_REASON = 'e2e: end of shift'
// A pause in alice's session (seconds) for the skip-idle replay: longer than
// the player's idle limit (2 s) by more than the assertions' margins.
const IDLE_PAUSE = 7

let server
let sshd
let browser
const actors = new Map()
const facts = {}
const state = { failed: null }

const { api, must, login } = apiOf(() => server)

async function actor(name) {
  if (!actors.has(name)) actors.set(name, await Actor.open(browser, name, server.url))
  return actors.get(name)
}

const step = stepper({ suite: 'terminal', actors, server: () => server, state })

/** screenText is what the xterm of a tab or a watch drawer shows. */
const screenText = (page, testid) => page.getByTestId(testid).locator('.xterm-rows').innerText()

async function screenShows(page, testid, text, timeout = 15_000) {
  await waitUntil(async () => (await screenText(page, testid)).includes(text), {
    timeout,
    message: `"${text}" on ${testid}`,
  })
}

/** typeLine types a command line into the focused terminal and presses Enter. */
async function typeLine(page, line) {
  await page.getByTestId('terminal-screen').click()
  await page.keyboard.type(line, { delay: 10 })
  await page.keyboard.press('Enter')
}

describe('the web terminal', () => {
  before(async () => {
    sshd = await startSshd()
    server = await startServer()
    browser = await launchBrowser()

    const admin = await login('admin', server.adminPassword, PASSWORD.admin)
    facts.admin = admin
    const alice = await must(
      'POST',
      '/users',
      admin,
      { username: 'alice', password: PASSWORD.alice, must_change_password: false },
      201,
    )
    const asset = await must(
      'POST',
      '/assets',
      admin,
      { name: 'web-e2e', address: '127.0.0.1', platform_id: 1, protocols: [{ name: 'ssh', port: sshd.port }] },
      201,
    )
    facts.assetId = asset.id
    await must(
      'POST',
      '/accounts',
      admin,
      { asset_id: asset.id, name: 'deploy', username: sshd.user, secret_type: 'ssh_key', secret: sshd.privateKey },
      201,
    )
    await must(
      'POST',
      '/permissions',
      admin,
      {
        name: 'alice web-e2e',
        user_ids: [alice.id],
        asset_ids: [asset.id],
        accounts: ['deploy'],
        protocols: ['ssh'],
        actions: ['connect', 'copy', 'paste'],
      },
      201,
    )
    const group = await must(
      'POST',
      '/command-groups',
      admin,
      { name: 'canary', kind: 'command', content: `touch ${CANARY}` },
      201,
    )
    await must(
      'POST',
      '/command-filters',
      admin,
      { name: 'deny canary', priority: 5, action: 'deny', group_ids: [group.id], is_active: true },
      201,
    )
    // A second organization with its own admin, carol.
    const org = await must('POST', '/orgs', admin, { name: 'Globex' }, 201)
    await must(
      'POST',
      '/users',
      admin,
      { username: 'carol', password: PASSWORD.carol, must_change_password: false, org_role: 'org_admin' },
      201,
      { 'X-Portcullis-Org': String(org.id) },
    )
  })

  after(async () => {
    for (const a of actors.values()) await a.close()
    await browser?.close().catch(() => undefined)
    const log = server?.log() ?? ''
    await server?.stop()
    await sshd?.stop()
    await writeFile(path.join(artifactsDir, 'server-terminal.log'), log + '\n').catch(() => undefined)
  })

  step('alice: opens a terminal from My assets and runs a command', async () => {
    const a = await actor('alice')
    await a.goto('/login')
    await submitPassword(a.page, 'alice', PASSWORD.alice)
    await inApp(a.page)
    await visible(row(a.page, 'my-assets', 'web-e2e'))
    await row(a.page, 'my-assets', 'web-e2e').getByTestId('my-assets-connect').click()
    await visible(a.page.getByTestId('workspace-tabs'))
    await waitUntil(
      async () => (await a.page.getByTestId('terminal-pane').getAttribute('data-state')) === 'connected',
      {
        message: 'the terminal to connect',
        timeout: 15_000,
      },
    )
    await screenShows(a.page, 'terminal-screen', '$')
    await typeLine(a.page, 'echo e2e-$((6*7))')
    await screenShows(a.page, 'terminal-screen', 'e2e-42')
    await a.shot('terminal-tab')
  })

  step('alice: the canary command is denied on screen and never runs', async () => {
    const a = await actor('alice')
    await typeLine(a.page, `touch ${CANARY}`)
    const ev = await visible(a.page.getByTestId('terminal-event'))
    assert.equal(await ev.getAttribute('data-kind'), 'denied')
    assert.match(await ev.innerText(), /deny canary/)
    await screenShows(a.page, 'terminal-screen', 'deny canary')
    await typeLine(a.page, 'echo still-here')
    await screenShows(a.page, 'terminal-screen', 'still-here')
    assert.equal(existsSync(CANARY), false, 'the denied command ran on the target')
    const cmds = await must('GET', '/commands?page_size=50', facts.admin, undefined, 200)
    const inputs = cmds.items.map((c) => `${c.input} => ${c.verdict}`)
    assert.ok(inputs.includes(`touch ${CANARY} => denied`), `command log: ${inputs.join(', ')}`)
    assert.ok(inputs.includes('echo e2e-$((6*7)) => allowed'), `command log: ${inputs.join(', ')}`)
  })

  step('admin: watches the session live, then kills it; alice sees why', async () => {
    const adm = await actor('admin')
    await adm.goto('/login')
    await submitPassword(adm.page, 'admin', PASSWORD.admin)
    await inApp(adm.page)
    await openMenu(adm.page, 'live', /Live sessions/)
    const r = row(adm.page, 'live', 'alice@web-e2e')
    await visible(r)
    await r.getByTestId('live-watch').click()
    await visible(adm.page.getByTestId('watch-pane'))
    const a = await actor('alice')
    // alice pauses before her next command (the replay below skips it).
    await new Promise((res) => setTimeout(res, IDLE_PAUSE * 1000))
    await typeLine(a.page, 'echo watched-$((7*6))')
    await screenShows(adm.page, 'watch-screen', 'watched-42')
    await adm.shot('terminal-watch')
    // The admin is told in real time when a command is denied.
    await typeLine(a.page, `touch ${CANARY}`)
    await visible(adm.page.getByTestId('notify-denied'))
    assert.equal(existsSync(CANARY), false, 'the denied command ran on the target')
    await adm.page.keyboard.press('Escape')
    await r.getByTestId('live-kill').click()
    await adm.page.getByTestId('live-kill-reason').fill(KILL_REASON)
    await adm.page.getByRole('button', { name: 'Kill' }).last().click()
    await screenShows(a.page, 'terminal-screen', KILL_REASON)
    await waitUntil(async () => (await a.page.getByTestId('terminal-detail').innerText()).includes(KILL_REASON), {
      message: "the kill reason in alice's status line",
    })
    await waitUntil(
      async () => (await a.page.getByTestId('terminal-pane').getAttribute('data-state')) !== 'connected',
      {
        message: "alice's tab to leave the connected state",
      },
    )
    await a.shot('terminal-killed')
    const sessions = await must('GET', '/sessions?page_size=10', facts.admin, undefined, 200)
    const s = sessions.items.find((x) => x.username === 'alice')
    assert.ok(s && s.via === 'web' && s.ended_at && s.end_reason.includes(KILL_REASON), JSON.stringify(s))
  })

  step(
    "admin: replays alice's session: the command timeline seeks to the right frame, speed plays faster",
    async () => {
      const adm = await actor('admin')
      await openMenu(adm.page, 'sessions', /Sessions/)
      const r = adm.page.getByTestId('sessions-row').filter({ hasText: 'alice' }).first()
      await visible(r)
      await r.getByTestId('session-replay').click()
      await visible(adm.page.getByTestId('replay-dialog'))
      const player = adm.page.getByTestId('recording-player')
      await visible(player, 15_000)
      assert.equal(await adm.page.getByTestId('replay-error').count(), 0)
      // Each logged command is a marker; the search filters them.
      const markers = player.getByTestId('player-marker')
      await waitUntil(async () => (await markers.count()) >= 2, { message: 'command markers in the timeline' })
      await player.getByTestId('player-search').fill('watched')
      await waitUntil(async () => (await markers.count()) === 1, { message: 'the search to leave one marker' })
      // Seeking to the second command shows what the terminal showed then: the
      // first command's output, and not yet the second's.
      await markers.first().click()
      const shown = async () => player.getByTestId('player-screen').locator('.xterm-rows').innerText()
      await waitUntil(async () => (await shown()).includes('e2e-42'), { message: 'the earlier output at the marker' })
      assert.ok(!(await shown()).includes('watched-42'), `the later output is already on screen: ${await shown()}`)
      const seekMs = Number(await player.getAttribute('data-seek-ms'))
      assert.ok(seekMs < 1000, `seek took ${seekMs} ms`)
      // Played at 16x, the recording advances much faster than the clock.
      await player.getByTestId('player-search').fill('')
      await waitUntil(async () => (await markers.count()) >= 2, { message: 'all the markers again' })
      await markers.first().click()
      await waitUntil(async () => Number(await player.getAttribute('data-time')) < 1, {
        message: 'the seek to the first command',
      })
      const t0 = Number(await player.getAttribute('data-time'))
      await player.getByTestId('player-speed').click()
      await adm.page.locator('.n-base-select-option').filter({ hasText: /^16x$/ }).click()
      await player.getByTestId('player-play').click()
      await new Promise((res) => setTimeout(res, 600))
      const t1 = Number(await player.getAttribute('data-time'))
      const end = Number(await player.getAttribute('data-duration'))
      assert.ok(t1 - t0 > 2 || t1 >= end, `16x advanced ${t1 - t0}s in 0.6s (from ${t0} to ${t1} of ${end})`)
      await waitUntil(async () => (await shown()).includes('watched-42'), { message: 'the later output while playing' })
      await adm.shot('terminal-replay')
      const ops = await must('GET', '/audit/operation-logs?page_size=50', facts.admin, undefined, 200)
      assert.ok(
        ops.items.some((o) => o.action === 'session.replay' && o.success),
        'the replay is audited',
      )
    },
  )

  step('admin: the replay skips idle time: a long pause plays in about 2 s, in full once unticked', async () => {
    const adm = await actor('admin')
    const player = adm.page.getByTestId('recording-player')
    const markers = player.getByTestId('player-marker')
    const now = async () => Number(await player.getAttribute('data-time'))
    const pause = async () => {
      if (await player.getByTestId('player-pause').count()) await player.getByTestId('player-pause').click()
      await visible(player.getByTestId('player-play'))
    }
    await pause()
    await player.getByTestId('player-speed').click()
    await adm.page.locator('.n-base-select-option').filter({ hasText: /^1x$/ }).click()
    const before = markers.filter({ hasText: 'echo still-here' }).first()
    const from = Number(await before.getAttribute('data-time'))
    const to = Number(await markers.filter({ hasText: 'echo watched' }).first().getAttribute('data-time'))
    // Between the two commands: alice's pause, and the admin logging in.
    assert.ok(to - from > IDLE_PAUSE, `the recording holds ${to - from} s between the commands`)
    const skipIdle = player.getByTestId('player-skip-idle')
    assert.equal(await skipIdle.getAttribute('aria-checked'), 'true', 'skip idle is on by default')
    const playFromMarker = async () => {
      await before.click()
      await waitUntil(async () => Math.abs((await now()) - from) < 0.001, { message: 'the seek to echo still-here' })
      // The clock starts before the click: playing may start before click() returns.
      const t0 = Date.now()
      await player.getByTestId('player-play').click()
      return t0
    }

    // Skip idle: the pause plays as 2 s, then alice's typing.
    let t0 = await playFromMarker()
    await waitUntil(async () => (await now()) >= to, { timeout: 20_000, message: 'the playhead to reach echo watched' })
    const wall = (Date.now() - t0) / 1000
    await pause()
    assert.ok(wall < to - from - 3, `skip idle on: ${(to - from).toFixed(1)} s of recording took ${wall.toFixed(1)} s`)

    // Unticked, the pause plays in full: 3 s later the playhead is 3 s further.
    await skipIdle.click()
    assert.equal(await skipIdle.getAttribute('aria-checked'), 'false')
    t0 = await playFromMarker()
    await new Promise((res) => setTimeout(res, 3000))
    const at = await now()
    const played = (Date.now() - t0) / 1000
    await pause()
    assert.ok(
      at > from + 1.5 && at < from + played + 0.5 && at < to - 1,
      `skip idle off: ${played.toFixed(1)} s of playing moved the playhead from ${from} to ${at} (next command at ${to})`,
    )
    await skipIdle.click()
  })

  step('admin: exports the session as a signed bundle that verifies offline, and fails once altered', async () => {
    const adm = await actor('admin')
    const r = adm.page.getByTestId('sessions-row').filter({ hasText: 'alice' }).first()
    await adm.page.keyboard.press('Escape')
    const [download] = await Promise.all([
      adm.page.waitForEvent('download', { timeout: 15_000 }),
      r.getByTestId('session-export').click(),
    ])
    assert.match(download.suggestedFilename(), /\.pcbundle$/)
    const file = path.join(artifactsDir, 'e2e-session.pcbundle')
    await download.saveAs(file)
    const key = await must('GET', '/settings/signing-key', facts.admin, undefined, 200)
    const bin = path.join(repoRoot, 'bin', 'portcullisd')
    const ok = spawnSync(bin, ['verify', '--trust', key.fingerprint, file], { encoding: 'utf8' })
    assert.equal(ok.status, 0, `verify: ${ok.stdout}${ok.stderr}`)
    assert.ok(ok.stdout.includes(`verified, signed by ${key.fingerprint}`), ok.stdout)
    // The cast inside plays with the real asciinema CLI.
    const cast = spawnSync('unzip', ['-p', file, 'recording.cast'], { encoding: 'utf8', maxBuffer: 64 << 20 })
    assert.equal(cast.status, 0, cast.stderr)
    const castFile = path.join(artifactsDir, 'e2e-session.cast')
    await writeFile(castFile, cast.stdout)
    // asciinema 2.2 wants a tty: script(1) gives it one.
    const played = spawnSync('script', ['-qec', `asciinema cat '${castFile}'`, '/dev/null'], {
      encoding: 'utf8',
      detached: true,
      env: { ...process.env, HOME: artifactsDir },
    })
    assert.equal(played.status, 0, played.stdout + played.stderr)
    assert.ok(played.stdout.includes('e2e-42'), 'asciinema cat of the exported cast')
    // One byte changed: verification fails and says so.
    const bytes = await readFile(file)
    bytes[Math.floor(bytes.length / 3)] ^= 0x01
    const bad = path.join(artifactsDir, 'e2e-session-altered.pcbundle')
    await writeFile(bad, bytes)
    const no = spawnSync(bin, ['verify', '--trust', key.fingerprint, bad], { encoding: 'utf8' })
    assert.equal(no.status, 1, `verify of an altered bundle: ${no.stdout}`)
    assert.match(no.stdout, /NOT verified/)
    const ops = await must('GET', '/audit/operation-logs?page_size=50', facts.admin, undefined, 200)
    assert.ok(
      ops.items.some((o) => o.action === 'session.export' && o.success),
      'the export is audited',
    )
  })

  step('carol (Globex admin): sees no session of web-e2e and cannot open a terminal to it', async () => {
    const c = await actor('carol')
    await c.goto('/login')
    await submitPassword(c.page, 'carol', PASSWORD.carol)
    await inApp(c.page)
    await openMenu(c.page, 'sessions', /Sessions/)
    const carol = await login('carol', PASSWORD.carol)
    const live = await must('GET', '/live-sessions', carol, undefined, 200)
    assert.equal(live.total, 0)
    const past = await must('GET', '/sessions', carol, undefined, 200)
    assert.equal(past.total, 0, JSON.stringify(past.items))
    const r = await api('POST', '/terminal/tokens', carol, { asset_id: facts.assetId })
    assert.equal(r.status, 404, r.text)
  })
})
