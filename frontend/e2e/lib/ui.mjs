// Small helpers to drive the Portcullis UI by its data-testid hooks
// (frontend/TESTIDS.md) and to wait for things with a bound.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

/** waitUntil polls fn until it answers a truthy value, or throws after timeout ms. */
export async function waitUntil(fn, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last)
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (last: ${detail})`)
    }
    await new Promise((r) => setTimeout(r, interval))
  }
}

/** visible waits for a locator to be visible and answers it. */
export async function visible(locator, timeout = 10_000) {
  await locator.waitFor({ state: 'visible', timeout })
  return locator
}

/** hidden waits for a locator to be hidden or gone. */
export async function hidden(locator, timeout = 10_000) {
  await locator.waitFor({ state: 'hidden', timeout })
}

/** textOf waits until a locator's visible text matches re and answers the text. */
export async function textOf(locator, re, timeout = 10_000) {
  let text = ''
  await waitUntil(
    async () => {
      text = (await locator.innerText({ timeout: 1000 })).trim()
      return re.test(text)
    },
    { timeout, message: `text ${re} (got ${JSON.stringify(text)})` },
  )
  return text
}

/** count waits until locator matches exactly n elements. */
export async function count(locator, n, timeout = 10_000) {
  let got = -1
  await waitUntil(async () => (got = await locator.count()) === n, {
    timeout,
    message: `${n} element(s) (got ${got})`,
  })
}

// ---- login -------------------------------------------------------------------------------

/** submitPassword fills and sends the first login step. */
export async function submitPassword(page, username, password) {
  await visible(page.getByTestId('login-step-password'))
  await page.getByTestId('login-username').fill(username)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
}

/** changeForcedPassword answers the forced password change. */
export async function changeForcedPassword(page, newPassword) {
  await visible(page.getByTestId('login-step-change_password'))
  await page.getByTestId('pwchange-new').fill(newPassword)
  await page.getByTestId('pwchange-confirm').fill(newPassword)
  await page.getByTestId('pwchange-submit').click()
}

/** inApp waits for the signed-in layout. */
export async function inApp(page, timeout = 15_000) {
  await visible(page.getByTestId('side-menu'), timeout)
  await visible(page.getByTestId('user-menu'), timeout)
}

/** logout signs out through the user menu. */
export async function logout(page) {
  await page.getByTestId('user-menu').click()
  await page.getByTestId('user-menu-logout').click()
  await visible(page.getByTestId('login-step-password'))
  await waitUntil(() => page.url().includes('#/login'), { message: 'the login route' })
}

/** openMenu follows a side menu link and waits for the page title. */
export async function openMenu(page, route, title) {
  await page.getByTestId(`menu-${route}`).click()
  if (title) await textOf(page.getByTestId('page-title'), title)
}

// ---- Naive UI widgets --------------------------------------------------------------------

/** option is the visible select option whose text matches. */
export const option = (page, text) => page.locator('.n-base-select-option').filter({ hasText: text, visible: true })

/**
 * choose picks an option of the select with test id testid: it opens the select,
 * types search (server-searched selects) and clicks the option whose text matches.
 */
export async function choose(page, testid, text, { search, scope = page } = {}) {
  await scope.getByTestId(testid).click()
  if (search !== undefined) await page.keyboard.type(search)
  await option(page, text).first().click()
}

/** closePopups closes an open select menu by clicking the title of the dialog. */
export async function closePopups(dialog) {
  await dialog.locator('.n-card-header__main').click()
}

/** row is the table row <prefix>-row named name. */
export const row = (page, prefix, name) => page.locator(`[data-testid="${prefix}-row"][data-row-name="${name}"]`)

/** rows are all rows of a table. */
export const rows = (page, prefix) => page.getByTestId(`${prefix}-row`)

/** saveDialog clicks <form>-save and waits for the dialog to close, reporting its error. */
export async function saveDialog(page, form) {
  const dialog = page.getByTestId(`${form}-dialog`)
  await page.getByTestId(`${form}-save`).click()
  const error = page.getByTestId(`${form}-error`)
  await waitUntil(
    async () => {
      if (await error.isVisible()) throw new Error(`${form}: ${await error.innerText()}`)
      return !(await dialog.isVisible())
    },
    { message: `${form} dialog to close`, timeout: 10_000 },
  ).catch(async (err) => {
    if (await error.isVisible().catch(() => false)) {
      throw new Error(`${form} refused: ${(await error.innerText()).trim()}`)
    }
    throw err
  })
}

// ---- i18n ---------------------------------------------------------------------------------

// The top-level namespaces of the messages (app, common, login, ...), read from en.ts.
const namespaces = [
  ...readFileSync(path.resolve(here, '../../src/i18n/locales/en.ts'), 'utf8').matchAll(/^ {2}(\w+): \{/gm),
].map((m) => m[1])
const rawKey = new RegExp(`\\b(?:${namespaces.join('|')})\\.[A-Za-z_]+(?:\\.[A-Za-z_]+)*\\b`)

/** rawI18nKeys answers the message keys shown untranslated on the page (none when all is well). */
export async function rawI18nKeys(page) {
  const text = await page.locator('body').innerText()
  const found = new Set()
  const re = new RegExp(rawKey.source, 'g')
  for (const m of text.matchAll(re)) found.add(m[0])
  return [...found]
}

// ---- layout -------------------------------------------------------------------------------

/**
 * brokenWords answers the texts inside locator that are split inside a word:
 * a text node laid out on more lines than it has words (e.g. a column header
 * squeezed into "Nam" / "e"). Texts scrolled out of view count too. Meant for
 * English pages (CJK text may break between any two characters).
 */
export async function brokenWords(locator) {
  return locator.evaluate((root) => {
    const bad = []
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent.trim()
      // Lines may break at spaces and after hyphens; more lines than that split a word.
      const words = text.split(/\s+|(?<=-)/).filter(Boolean)
      if (words.length === 0 || !n.parentElement?.checkVisibility?.()) continue
      const range = document.createRange()
      range.selectNodeContents(n)
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)))
      if (lines.size > words.length) bad.push(text)
    }
    return bad
  })
}
