// Debian's Chromium driven by playwright-core (no browser download), one
// isolated context per actor, with console errors kept for failure reports.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = path.dirname(fileURLToPath(import.meta.url))

/** repoRoot is the repository's top directory. */
export const repoRoot = path.resolve(here, '../../..')
/** artifactsDir receives screenshots and failure reports (git-ignored). */
export const artifactsDir = process.env.E2E_ARTIFACTS || path.join(repoRoot, 'artifacts', 'e2e')

/** VIEWPORT is the window size of every page (and of the docs screenshots). */
export const VIEWPORT = { width: 1280, height: 800 }

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** launchBrowser starts Chromium with a fresh temporary profile. */
export async function launchBrowser() {
  await mkdir(artifactsDir, { recursive: true })
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  })
}

/**
 * Actor is one person at one browser: an isolated context (own sessionStorage
 * and localStorage) with one page, whose console errors and uncaught
 * exceptions are recorded.
 */
export class Actor {
  constructor(name, context, page, baseURL) {
    this.name = name
    this.context = context
    this.page = page
    this.baseURL = baseURL
    /** consoleErrors are console.error messages and failed requests, for reports. */
    this.consoleErrors = []
    /** pageErrors are uncaught exceptions in the page: a test fails on any. */
    this.pageErrors = []
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.consoleErrors.push(`console.error: ${msg.text()}`)
    })
    page.on('pageerror', (err) => {
      this.pageErrors.push(err.stack || String(err))
      this.consoleErrors.push(`uncaught: ${err.stack || err}`)
    })
  }

  /** open creates an actor on a new context of browser. */
  static async open(browser, name, baseURL) {
    const context = await browser.newContext({
      baseURL,
      viewport: VIEWPORT,
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'light',
      reducedMotion: 'reduce',
    })
    context.setDefaultTimeout(10_000)
    context.setDefaultNavigationTimeout(15_000)
    const page = await context.newPage()
    return new Actor(name, context, page, baseURL)
  }

  /** goto opens a route of the hash router, e.g. "/login". */
  async goto(route) {
    await this.page.goto(`/#${route}`)
  }

  /** token is the session token the UI keeps in sessionStorage. */
  async token() {
    return this.page.evaluate(() => window.sessionStorage.getItem('portcullis.token'))
  }

  /** api calls the REST API with this actor's session token (from the test, not the page). */
  async api(method, apiPath, { body, headers = {} } = {}) {
    const token = await this.token()
    if (!token) throw new Error(`${this.name}: no session token in sessionStorage`)
    const res = await fetch(`${this.baseURL}/api/v1${apiPath}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, json, text }
  }

  /** shot saves a full-window screenshot into artifacts/e2e (or to an absolute path). */
  async shot(name, opts = {}) {
    const file = path.isAbsolute(name) ? name : path.join(artifactsDir, `${name}.png`)
    await mkdir(path.dirname(file), { recursive: true })
    await this.page.screenshot({ path: file, animations: 'disabled', ...opts })
    return file
  }

  /** report saves a screenshot and the console errors after a failure; answers what it wrote. */
  async report(prefix) {
    const out = []
    if (!this.page.isClosed()) {
      try {
        out.push(await this.shot(`${prefix}-${this.name}`, { timeout: 5000 }))
      } catch (err) {
        out.push(`(no screenshot of ${this.name}: ${err.message})`)
      }
    }
    const file = path.join(artifactsDir, `${prefix}-${this.name}-console.txt`)
    const url = this.page.isClosed() ? '(closed)' : this.page.url()
    await writeFile(file, [`url: ${url}`, ...this.consoleErrors].join('\n') + '\n')
    out.push(file)
    return { files: out, url, consoleErrors: this.consoleErrors }
  }

  async close() {
    await this.context.close().catch(() => undefined)
  }
}
