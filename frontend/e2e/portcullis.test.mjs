// End-to-end: Debian's Chromium (playwright-core) against a real portcullisd.
//
// The admin logs in with the one-time password, changes it, enrols TOTP and
// logs in again with a code; creates a user, folders, two assets, an account
// and a permission; the user sees exactly the granted asset; an admin of a
// second organization sees nothing of it, in the UI and through the API.
//
// Steps share one server and run in order; after a failed step the dependent
// ones are skipped, and the failure leaves a screenshot and the console
// errors of every open page in artifacts/e2e/, and the server log on stderr.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Actor, artifactsDir, launchBrowser, repoRoot } from './lib/browser.mjs'
import { startServer } from './lib/server.mjs'
import { Authenticator } from './lib/totp.mjs'
import {
  brokenWords,
  changeForcedPassword,
  choose,
  closePopups,
  count,
  hidden,
  inApp,
  logout,
  openMenu,
  option,
  rawI18nKeys,
  row,
  rows,
  saveDialog,
  submitPassword,
  textOf,
  visible,
  waitUntil,
} from './lib/ui.mjs'

const PASSWORD = {
  admin: 'Adm1n-e2e-Passw0rd',
  aliceInitial: 'Wonderland-Init-Pw1',
  alice: 'Wonderland-New-Pw2',
  bobInitial: 'Tenant-Init-Passw0rd1',
  bob: 'Tenant-New-Passw0rd2',
}
const DOCS = path.join(repoRoot, 'docs')

let server
let browser
/** actors by name: each an isolated browser context with one page. */
const actors = new Map()
/** facts learnt along the way (ids, the TOTP authenticator). */
const facts = {}
const state = { failed: null, steps: 0, passed: 0 }

async function actor(name) {
  if (!actors.has(name)) actors.set(name, await Actor.open(browser, name, server.url))
  return actors.get(name)
}

async function closeActor(name) {
  await actors.get(name)?.close()
  actors.delete(name)
}

const slug = (s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60)

async function reportFailure(name, err) {
  const prefix = `FAILED-${slug(name)}`
  const lines = [`\n=== e2e step failed: ${name}`, String(err?.stack || err)]
  for (const a of actors.values()) {
    const r = await a.report(prefix).catch((e) => ({ files: [`(report failed: ${e.message})`], consoleErrors: [] }))
    lines.push(`--- ${a.name} at ${r.url}`, ...r.files.map((f) => `saved ${f}`))
    if (r.consoleErrors.length) lines.push('console errors:', ...r.consoleErrors.map((e) => `  ${e}`))
  }
  lines.push('--- portcullisd log ---', server?.log() ?? '(no server)', '--- end of portcullisd log ---\n')
  process.stderr.write(lines.join('\n') + '\n')
}

/**
 * step is one test of the flow, bounded by its own timeout. A dependent step is
 * skipped once an earlier dependent step failed. Any uncaught exception in a
 * page fails the step.
 */
function step(name, fn, { timeout = 45_000, dependent = true } = {}) {
  test(name, { timeout: timeout + 10_000 }, async (t) => {
    if (dependent && state.failed) {
      t.skip(`skipped: "${state.failed}" failed`)
      return
    }
    state.steps++
    let timer
    try {
      await Promise.race([
        fn(t),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`step timed out after ${timeout} ms`)), timeout)
        }),
      ])
      for (const a of actors.values()) {
        assert.deepEqual(a.pageErrors, [], `uncaught exceptions in the page of ${a.name}`)
      }
      state.passed++
    } catch (err) {
      if (dependent) state.failed = name
      await reportFailure(name, err)
      throw err
    } finally {
      clearTimeout(timer)
    }
  })
}

async function noRawKeys(a) {
  assert.deepEqual(await rawI18nKeys(a.page), [], `untranslated message keys on ${a.page.url()}`)
}

/** wellLaidOut checks that no text of the table is broken inside a word. */
async function wellLaidOut(a, table) {
  const bad = await brokenWords(a.page.getByTestId(`${table}-table`))
  assert.deepEqual(bad, [], `texts of ${table}-table split inside a word (too narrow columns)`)
}

describe('portcullis in a browser', () => {
  before(async () => {
    server = await startServer()
    browser = await launchBrowser()
  })

  after(async () => {
    for (const a of actors.values()) await a.close()
    await browser?.close().catch(() => undefined)
    const log = server?.log() ?? ''
    const exit = await server?.stop()
    await writeFile(path.join(artifactsDir, 'server.log'), log + '\n').catch(() => undefined)
    const where = server ? `server ${server.url} stopped (${JSON.stringify(exit)})` : 'the server did not start'
    process.stderr.write(
      `e2e: ${state.passed}/${state.steps} steps passed${state.failed ? `, first failure: ${state.failed}` : ''}; ` +
        `${where}; screenshots in ${artifactsDir}\n`,
    )
  })

  // ---- the login page on its own --------------------------------------------------------------

  step(
    'the login page renders (docs/screenshot-login.png)',
    async () => {
      assert.ok(server.log().includes(server.adminPassword), 'portcullisd printed the one-time password')
      const v = await actor('visitor')
      await v.goto('/login')
      await visible(v.page.getByTestId('login-step-password'))
      await visible(v.page.getByTestId('logo'))
      await textOf(v.page.getByTestId('login-submit'), /^Sign in$/)
      await textOf(v.page.locator('.login-brand'), /Portcullis[\s\S]*Privileged access gateway/)
      await waitUntil(async () => (await v.page.title()).includes('Portcullis'), { message: 'the document title' })
      await noRawKeys(v)
      // The login card fades in: let it settle before the README picture.
      await v.page.waitForTimeout(300)
      await v.shot(path.join(DOCS, 'screenshot-login.png'))
      await v.shot('01-login')
    },
    { dependent: false },
  )

  step(
    'a wrong password shows the error and stays on the password step',
    async () => {
      const v = await actor('visitor')
      await v.goto('/login')
      await submitPassword(v.page, 'admin', 'not-the-password-1A')
      await textOf(v.page.getByTestId('login-error'), /invalid username or password/i)
      await visible(v.page.getByTestId('login-step-password'))
      assert.equal(await v.token(), null, 'no session after a failed login')
      await v.shot('02-login-error')
      await closeActor('visitor')
    },
    { dependent: false },
  )

  step(
    'the language switch turns the login page into 简体中文',
    async () => {
      const zh = await actor('zh')
      await zh.goto('/login')
      await visible(zh.page.getByTestId('login-step-password'))
      await zh.page.getByTestId('lang-switch').click()
      await zh.page.getByTestId('lang-zh-CN').click()
      await textOf(zh.page.getByTestId('login-submit'), /^登录$/)
      await textOf(zh.page.locator('.login-brand'), /堡垒机/)
      await textOf(zh.page.getByTestId('lang-switch'), /简体中文/)
      assert.equal(await zh.page.evaluate(() => document.documentElement.lang), 'zh-CN')
      assert.equal(await zh.page.evaluate(() => localStorage.getItem('portcullis.locale')), 'zh-CN')
      // The choice outlives a reload.
      await zh.page.reload()
      await textOf(zh.page.getByTestId('login-submit'), /^登录$/)
      await textOf(zh.page.locator('form'), /用户名[\s\S]*密码/)
      // Naive UI's own texts follow the language too.
      assert.equal(await zh.page.getByTestId('login-username').getAttribute('placeholder'), '请输入')
      await noRawKeys(zh)
      await zh.shot('03-login-zh-CN')
      await closeActor('zh')
    },
    { dependent: false },
  )

  // ---- the administrator -------------------------------------------------------------------

  step('admin: first login with the one-time password forces a new password', async () => {
    const admin = await actor('admin')
    await admin.goto('/login')
    await submitPassword(admin.page, 'admin', server.adminPassword)
    await visible(admin.page.getByTestId('login-steps'))
    await visible(admin.page.getByTestId('login-step-change_password'))
    await noRawKeys(admin)
    await admin.shot('04-admin-change-password')
    await changeForcedPassword(admin.page, PASSWORD.admin)
    // The default policy does not force TOTP on admins: the app opens.
    await inApp(admin.page)
    await textOf(admin.page.getByTestId('user-menu'), /Administrator/)
    await visible(admin.page.getByTestId('menu-users'))
    await visible(admin.page.getByTestId('menu-orgs'))
  })

  step('admin: enrols TOTP on the profile page', async () => {
    const { page } = await actor('admin')
    await page.getByTestId('user-menu').click()
    await page.getByTestId('user-menu-profile').click()
    await textOf(page.getByTestId('profile-username'), /^admin$/)
    await textOf(page.getByTestId('profile-mfa-status'), /Disabled/)
    await page.getByTestId('profile-mfa-enable').click()
    const dialog = await visible(page.getByTestId('profile-mfa-dialog'))
    const secret = (await textOf(dialog.getByTestId('mfa-secret'), /^[A-Z2-7]{16,}=*$/)).trim()
    await visible(dialog.getByTestId('mfa-qr'))
    await textOf(dialog.getByTestId('mfa-uri'), new RegExp(`^otpauth://totp/.*[?&]secret=${secret}`))
    await noRawKeys(await actor('admin'))
    await (await actor('admin')).shot('05-admin-mfa-enrol')

    facts.adminTotp = new Authenticator(secret)
    await dialog.getByTestId('mfa-code').fill(await facts.adminTotp.code())
    await dialog.getByTestId('mfa-confirm').click()
    await visible(dialog.getByTestId('recovery-codes'))
    const codes = await dialog.getByTestId('recovery-code').allInnerTexts()
    assert.ok(codes.length >= 8, `recovery codes shown (got ${codes.length})`)
    assert.equal(new Set(codes).size, codes.length, 'recovery codes are distinct')
    await (await actor('admin')).shot('06-admin-recovery-codes')
    await dialog.getByTestId('recovery-saved').click()
    await hidden(dialog)
    await textOf(page.getByTestId('toast-success'), /.+/)
    await textOf(page.getByTestId('profile-mfa-status'), /Enabled/)
  })

  step(
    'admin: logs out, then in again with password and a TOTP code',
    async () => {
      const admin = await actor('admin')
      const { page } = admin
      await logout(page)
      assert.equal(await admin.token(), null, 'the session token is gone after logout')
      await submitPassword(page, 'admin', PASSWORD.admin)
      await visible(page.getByTestId('login-step-otp'))
      // A wrong code is refused and the step stays.
      await page.getByTestId('otp-code').fill(facts.adminTotp.wrongCode())
      await page.getByTestId('otp-submit').click()
      await textOf(page.getByTestId('login-error'), /invalid one-time code/i)
      await visible(page.getByTestId('login-step-otp'))
      await admin.shot('07-admin-otp-refused')
      // A fresh code (of a step after the enrolment's) lets the admin in.
      await page.getByTestId('otp-code').fill(await facts.adminTotp.code())
      await page.getByTestId('otp-submit').click()
      await inApp(page)
      await textOf(page.getByTestId('page-title'), /My assets/)
    },
    { timeout: 75_000 },
  ) // may wait up to 30 s for a TOTP step after the enrolment's

  step('admin: creates the user alice', async () => {
    const admin = await actor('admin')
    const { page } = admin
    await openMenu(page, 'users', /Users/)
    await visible(row(page, 'users', 'admin'))
    await page.getByTestId('users-create').click()
    const dialog = await visible(page.getByTestId('users-form-dialog'))
    await dialog.getByTestId('users-field-username').fill('alice')
    await dialog.getByTestId('users-field-name').fill('Alice Liddell')
    await dialog.getByTestId('users-field-email').fill('alice@example.com')
    await dialog.getByTestId('users-field-password').fill(PASSWORD.aliceInitial)
    const mustChange = dialog.getByTestId('users-field-must_change_password')
    assert.equal(await mustChange.getAttribute('aria-checked'), 'true', 'a new user must change the password')
    await noRawKeys(admin)
    await admin.shot('08-admin-user-form')
    await saveDialog(page, 'users-form')
    await textOf(row(page, 'users', 'alice'), /Alice Liddell[\s\S]*alice@example\.com/)
    await wellLaidOut(admin, 'users')
  })

  step('admin: builds a folder tree with assets, by form and by CSV (docs/screenshot-assets.png)', async () => {
    const admin = await actor('admin')
    const { page } = admin
    await openMenu(page, 'assets', /Assets/)
    const node = (name) => page.locator(`[data-testid="nodes-node"][data-node-name="${name}"]`)

    async function createFolder(name, parent) {
      await page.getByTestId('nodes-create').click()
      const dialog = await visible(page.getByTestId('nodes-form-dialog'))
      if (parent) await textOf(dialog.getByTestId('nodes-form-parent'), new RegExp(parent))
      await dialog.getByTestId('nodes-field-name').fill(name)
      await saveDialog(page, 'nodes-form')
      await visible(node(name))
    }

    async function createAsset(name, address, folder) {
      await page.getByTestId('assets-create').click()
      const dialog = await visible(page.getByTestId('assets-form-dialog'))
      await dialog.getByTestId('assets-field-name').fill(name)
      await dialog.getByTestId('assets-field-address').fill(address)
      await choose(page, 'assets-field-platform_id', /^Linux/, { scope: dialog, search: 'Linux' })
      // The platform fills in its default protocols.
      await count(dialog.getByTestId('protocol-row'), 3)
      assert.equal(await dialog.getByTestId('protocol-port').first().inputValue(), '22')
      // The selected folder is preselected.
      await textOf(dialog.getByTestId('assets-field-node_ids'), new RegExp(folder))
      await dialog.getByTestId('assets-field-comment').fill(`${name} (e2e)`)
      await saveDialog(page, 'assets-form')
      await visible(row(page, 'assets', name))
    }

    await createFolder('prod')
    await createFolder('web', 'prod')
    await createAsset('web-01', '10.0.0.11', 'web')
    await node('prod').click()
    await createFolder('db', 'prod')
    await createAsset('db-01', '10.0.0.21', 'db')

    // More assets from a CSV file (one folder is new), through the CSV menu.
    await page.getByTestId('assets-csv').click()
    await page.getByTestId('assets-import').click()
    const csv = await visible(page.getByTestId('csv-dialog'))
    await csv.getByTestId('csv-file').setInputFiles({
      name: 'assets.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        [
          'name,address,platform,protocols,nodes,zone,labels,is_active,comment',
          'web-02,10.0.0.12,Linux,"ssh/22,sftp/22",/prod/web,,env:prod;team:web,true,second web server',
          'db-02,10.0.0.22,PostgreSQL,postgresql/5432,/prod/db,,env:prod,true,',
          'desk-01,10.0.1.5,Windows,rdp/3389,/office,,,true,front desk',
          '',
        ].join('\n'),
      ),
    })
    await csv.getByTestId('csv-upload').click()
    await textOf(csv.getByTestId('csv-result'), /3 created, 0 updated, 0 rows with errors/)
    await csv.getByTestId('csv-close').click()
    await hidden(csv)
    await visible(node('office'))
    await visible(row(page, 'assets', 'db-02')) // the list of the selected folder is reloaded
    await node('office').click()
    await visible(row(page, 'assets', 'desk-01'))

    // A folder filters its subtree.
    await node('web').click()
    await visible(page.getByTestId('assets-node-filter'))
    await visible(row(page, 'assets', 'web-01'))
    await count(rows(page, 'assets'), 2)
    await node('prod').click()
    await count(rows(page, 'assets'), 4)
    await page.getByTestId('nodes-all').click()
    await hidden(page.getByTestId('assets-node-filter'))
    await count(rows(page, 'assets'), 5)
    await textOf(row(page, 'assets', 'web-01'), /10\.0\.0\.11[\s\S]*Linux[\s\S]*ssh:22/)
    await wellLaidOut(admin, 'assets')
    await noRawKeys(admin)
    await page.waitForTimeout(300) // let the toasts of the saves fade for the README picture
    await hidden(page.getByTestId('toast-success').first(), 8000).catch(() => undefined)
    await admin.shot(path.join(DOCS, 'screenshot-assets.png'))
    await admin.shot('09-admin-assets')
  })

  step('admin: adds the account root (password) to web-01', async () => {
    const admin = await actor('admin')
    const { page } = admin
    await row(page, 'assets', 'web-01').getByTestId('assets-accounts').click()
    const m = await waitUntil(() => /#\/admin\/accounts\?asset_id=(\d+)/.exec(page.url()), {
      message: 'the accounts page of web-01',
    })
    facts.assetId = Number(m[1])
    await textOf(page.getByTestId('page-title'), /Accounts/)
    await page.getByTestId('accounts-create').click()
    const dialog = await visible(page.getByTestId('accounts-form-dialog'))
    // The asset the page is filtered by is preselected.
    await textOf(dialog.getByTestId('accounts-field-asset_id'), /web-01/)
    await dialog.getByTestId('accounts-field-username').fill('root')
    await dialog.getByTestId('accounts-field-secret').fill('S3cret-root-password')
    await admin.shot('10-admin-account-form')
    await saveDialog(page, 'accounts-form')
    await textOf(row(page, 'accounts', 'root'), /root[\s\S]*web-01[\s\S]*Password/)
    await wellLaidOut(admin, 'accounts')
    // The secret is write-only.
    const acc = await admin.api('GET', `/accounts?asset_id=${facts.assetId}`)
    assert.equal(acc.status, 200, acc.text)
    assert.equal(acc.json.total, 1)
    facts.accountId = acc.json.items[0].id
    assert.ok(!('secret' in acc.json.items[0]), 'no secret in the API answer')
  })

  step('admin: grants alice web-01 as root', async () => {
    const admin = await actor('admin')
    const { page } = admin
    await openMenu(page, 'permissions', /Permissions/)
    await page.getByTestId('permissions-create').click()
    const dialog = await visible(page.getByTestId('permissions-form-dialog'))
    await dialog.getByTestId('permissions-field-name').fill('alice-web')
    await choose(page, 'permissions-field-user_ids', /^alice \(Alice Liddell\)$/, { scope: dialog, search: 'alice' })
    await closePopups(dialog)
    await choose(page, 'permissions-field-asset_ids', /^web-01 \(10\.0\.0\.11\)$/, { scope: dialog, search: 'web' })
    await closePopups(dialog)
    // Only the account root instead of the default @ALL.
    const accounts = dialog.getByTestId('permissions-field-accounts')
    await accounts.locator('.n-tag', { hasText: '@ALL' }).locator('.n-tag__close').click()
    await accounts.click()
    await page.keyboard.type('root')
    await option(page, /^root$/)
      .first()
      .waitFor()
    await page.keyboard.press('Enter')
    await closePopups(dialog)
    await textOf(accounts, /^root$/)
    await textOf(dialog.getByTestId('permissions-field-user_ids'), /alice/)
    await textOf(dialog.getByTestId('permissions-field-asset_ids'), /web-01/)
    await noRawKeys(admin)
    await admin.shot('11-admin-permission-form')
    await saveDialog(page, 'permissions-form')
    await textOf(
      row(page, 'permissions', 'alice-web'),
      /1 users?, 0 groups[\s\S]*1 assets?, 0 folders[\s\S]*root[\s\S]*all/,
    )
    await wellLaidOut(admin, 'permissions')
  })

  // ---- alice ----------------------------------------------------------------------------------

  step('alice: first login forces a new password, then she sees exactly web-01', async () => {
    const alice = await actor('alice')
    const { page } = alice
    await alice.goto('/login')
    await submitPassword(page, 'alice', PASSWORD.aliceInitial)
    await changeForcedPassword(page, PASSWORD.alice)
    await inApp(page)
    await textOf(page.getByTestId('page-title'), /My assets/)
    await textOf(page.getByTestId('user-menu'), /Alice Liddell/)

    const web = await visible(row(page, 'my-assets', 'web-01'))
    await count(rows(page, 'my-assets'), 1)
    await textOf(web, /10\.0\.0\.11[\s\S]*ssh:22[\s\S]*root/)
    await wellLaidOut(alice, 'my-assets')
    await visible(page.locator('[data-testid="my-nodes-node"][data-node-name="web"]'))
    await count(page.locator('[data-testid="my-nodes-node"][data-node-name="db"]'), 0)
    // A plain user has no administration menu, and its routes send her home.
    await count(page.getByTestId('menu-users'), 0)
    await count(page.getByTestId('menu-assets'), 0)
    await noRawKeys(alice)
    await alice.shot('12-alice-my-assets')
    await alice.goto('/admin/assets')
    await waitUntil(() => page.url().includes('#/my/assets'), { message: 'the redirect to My assets' })

    const mine = await alice.api('GET', '/me/assets')
    assert.equal(mine.status, 200, mine.text)
    assert.deepEqual(
      mine.json.items.map((i) => i.asset.name),
      ['web-01'],
    )
    assert.deepEqual(
      mine.json.items[0].accounts.map((a) => a.username),
      ['root'],
    )
    const direct = await alice.api('GET', `/assets/${facts.assetId}`)
    assert.equal(direct.status, 403, `a plain user may not read the admin API: ${direct.text}`)
  })

  // ---- a second organization ---------------------------------------------------------------

  step('admin: creates the organization Globex and its admin bob (org switcher)', async () => {
    const admin = await actor('admin')
    const { page } = admin
    await openMenu(page, 'orgs', /Organizations/)
    await page.getByTestId('orgs-create').click()
    const dialog = await visible(page.getByTestId('orgs-form-dialog'))
    await dialog.getByTestId('orgs-field-name').fill('Globex')
    await dialog.getByTestId('orgs-field-description').fill('A second tenant (e2e)')
    await saveDialog(page, 'orgs-form')
    await visible(row(page, 'orgs', 'Globex'))

    const me = await admin.api('GET', '/me')
    facts.defaultOrgId = me.json.org_id
    facts.defaultOrg = me.json.orgs.find((o) => o.id === me.json.org_id).name
    await waitUntil(async () => (await admin.api('GET', '/me')).json.orgs.some((o) => o.name === 'Globex'))
    await choose(page, 'org-switcher', /^Globex$/)
    await textOf(page.getByTestId('org-switcher'), /Globex/)

    await openMenu(page, 'users', /Users/)
    await visible(page.getByTestId('users-table').locator('.n-data-table-empty'))
    await count(rows(page, 'users'), 0)
    await page.getByTestId('users-create').click()
    const form = await visible(page.getByTestId('users-form-dialog'))
    await form.getByTestId('users-field-username').fill('bob')
    await form.getByTestId('users-field-name').fill('Bob Globex')
    await form.getByTestId('users-field-password').fill(PASSWORD.bobInitial)
    await choose(page, 'users-field-org_role', /^Org admin$/, { scope: form })
    await saveDialog(page, 'users-form')
    await visible(row(page, 'users', 'bob'))
    await count(rows(page, 'users'), 1)
    await admin.shot('13-admin-globex-users')
  })

  step('bob (Globex admin): sees nothing of web-01, in the UI and through the API', async () => {
    const bob = await actor('bob')
    const { page } = bob
    await bob.goto('/login')
    await submitPassword(page, 'bob', PASSWORD.bobInitial)
    await changeForcedPassword(page, PASSWORD.bob)
    await inApp(page)
    await textOf(page.getByTestId('org-name'), /Globex/)
    await visible(page.getByTestId('my-assets-table').locator('.n-data-table-empty'))
    await count(rows(page, 'my-assets'), 0)
    await count(page.getByTestId('my-nodes-node'), 0)
    await bob.shot('14-bob-my-assets-empty')

    await openMenu(page, 'assets', /Assets/)
    await visible(page.getByTestId('assets-table').locator('.n-data-table-empty'))
    await count(rows(page, 'assets'), 0)
    await count(page.getByTestId('nodes-node'), 0)
    await noRawKeys(bob)
    await bob.shot('15-bob-assets-empty')

    // An object of another organization is reported as not found.
    const asset = await bob.api('GET', `/assets/${facts.assetId}`)
    assert.equal(asset.status, 404, `asset of another org: ${asset.text}`)
    assert.equal(asset.json?.error?.code, 'not_found')
    const account = await bob.api('GET', `/accounts/${facts.accountId}`)
    assert.equal(account.status, 404, `account of another org: ${account.text}`)
    assert.equal(account.json?.error?.code, 'not_found')
    const list = await bob.api('GET', '/assets?search=web')
    assert.equal(list.status, 200, list.text)
    assert.equal(list.json.total, 0, 'no asset of another org in the list')
    const patch = await bob.api('PATCH', `/assets/${facts.assetId}`, { body: { comment: 'mine now' } })
    assert.equal(patch.status, 404, `PATCH of another org's asset: ${patch.text}`)
    // Only system admins choose the organization: an org admin naming another one is refused.
    const other = { headers: { 'X-Portcullis-Org': String(facts.defaultOrgId) } }
    for (const p of [`/assets/${facts.assetId}`, '/assets?search=web']) {
      const res = await bob.api('GET', p, other)
      assert.equal(res.status, 403, `${p} with X-Portcullis-Org of another org: ${res.text}`)
      assert.equal(res.json?.error?.code, 'forbidden')
      assert.doesNotMatch(res.text, /web-01/)
    }
    const mine = await bob.api('GET', '/me/assets')
    assert.equal(mine.status, 200, mine.text)
    assert.equal(mine.json.total, 0)
    // The refused PATCH changed nothing.
    const still = await (await actor('admin')).api('GET', `/assets/${facts.assetId}`)
    assert.equal(still.status, 200, still.text)
    assert.equal(still.json.comment, 'web-01 (e2e)')
  })

  // ---- audit ------------------------------------------------------------------------------------

  step("admin: the login log shows alice's login and the refused password", async () => {
    const admin = await actor('admin')
    const { page } = admin
    await choose(page, 'org-switcher', new RegExp(`^${facts.defaultOrg}$`))
    await textOf(page.getByTestId('org-switcher'), new RegExp(facts.defaultOrg))
    await openMenu(page, 'login-logs', /Login logs/)
    await page.getByTestId('login-logs-filter-username').fill('alice')
    const alice = row(page, 'login-logs', 'alice')
    await visible(alice.first())
    await waitUntil(async () => (await rows(page, 'login-logs').count()) === (await alice.count()), {
      message: 'only alice in the filtered log',
    })
    const aliceText = (await alice.allInnerTexts()).join('\n')
    assert.match(aliceText, /web/)
    assert.match(aliceText, /Success/)
    await wellLaidOut(admin, 'login-logs')
    await noRawKeys(admin)
    await admin.shot('16-admin-login-log-alice')

    await page.getByTestId('login-logs-filter-username').fill('admin')
    await visible(row(page, 'login-logs', 'admin').first())
    await textOf(page.getByTestId('login-logs-table'), /Failure/)

    await openMenu(page, 'operation-logs', /Operation logs/)
    await visible(rows(page, 'operation-logs').first())
    await textOf(page.getByTestId('operation-logs-table'), /asset/i)
    await wellLaidOut(admin, 'operation-logs')
    await admin.shot('17-admin-operation-log')
  })
})
