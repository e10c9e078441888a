// The player benchmark of `make bench` (issue 6): seeking and the first frame in
// the web UI's recording player, in Debian's Chromium, on a generated 1-hour,
// 100 MB terminal recording.
//
//   node e2e/bench/replay.mjs [--out FILE] [--duration 1h] [--size 104857600]
//
// It starts portcullisd on a fresh data dir, stops it, has bin/castgen (go build
// ./bench/castgen) put the recording there as an ended session (written by the
// real CastWriter and indexed as a finished session is), starts the server again
// and, as the admin in Chromium:
//   - first frame: from the click on the session's Replay button to the first
//     output of the recording in the player's terminal (the index, without its
//     keyframes, and the first segment fetched by HTTP range; API answers are
//     not cached), 7 times: the first open of the page also loads the player's
//     code and styles and has the server read the index (then cached), so it is
//     reported apart;
//   - seek: from a click on a command marker of the timeline, and on a point of
//     the scrubber, to the terminal drawn at that moment (the player counts a
//     seek in data-seeks once xterm.js has drawn it, in the animation frame after
//     the write), 60 markers and 60 scrubber points in random order over the
//     whole hour, so most seeks load another segment and its keyframe.
// Targets: seek under 100 ms, first frame under 300 ms. The table goes to stdout
// and to --out. Missing Chromium is a skip with a reason, not a failure.
import { execFile } from 'node:child_process'
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Actor, launchBrowser, repoRoot } from '../lib/browser.mjs'
import { startServer } from '../lib/server.mjs'
import { changeForcedPassword, inApp, openMenu, submitPassword, visible } from '../lib/ui.mjs'

const run = promisify(execFile)

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join('=')
    .split(/=?--/)
    .filter(Boolean)
    .map((a) => a.split('=')),
)
const OUT = args.out ?? path.join(repoRoot, 'artifacts', 'bench-replay.txt')
const DURATION = args.duration ?? '1h'
const SIZE = args.size ?? String(100 << 20)
const FIRST_FRAME_RUNS = 7
const MARKER_SEEKS = 60
const SCRUBBER_SEEKS = 60
const SEEK_TARGET_MS = 100
const FIRST_FRAME_TARGET_MS = 300

const say = (s) => console.log(`replay-bench: ${s}`)

const chromium = process.env.CHROMIUM || '/usr/bin/chromium'
try {
  await access(chromium)
} catch {
  say(`skipped: ${chromium} not found (run make setup)`)
  process.exit(0)
}
const castgen = path.join(repoRoot, 'bin', 'castgen')
await access(castgen).catch(() => {
  throw new Error(`${castgen} missing: go build -o bin/castgen ./bench/castgen (make bench does)`)
})

/** stats answers the median, p95, p99 and max of xs (milliseconds). */
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]
  return { n: s.length, median: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] }
}

/** shuffled answers xs in an order fixed by seed (the same runs measure the same seeks). */
function shuffled(xs, seed = 42) {
  const out = [...xs]
  let x = seed
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const j = x % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'portcullis-replay-bench-'))
let server = null
let browser = null
try {
  // Initialise the data dir, then seed it with the server stopped.
  server = await startServer({ dataDir })
  const password = server.adminPassword
  await server.stop()
  server = null
  say(`generating a ${DURATION}, ${(Number(SIZE) / 2 ** 20).toFixed(0)} MiB recording…`)
  const started = Date.now()
  const { stdout } = await run(castgen, ['-data-dir', dataDir, '-duration', DURATION, '-size', SIZE], {
    maxBuffer: 1 << 20,
  })
  const rec = JSON.parse(stdout)
  say(
    `${(rec.bytes / 2 ** 20).toFixed(1)} MiB, ${(rec.duration / 60).toFixed(1)} min, ${rec.segments} segments, ` +
      `${rec.markers} commands, index ${(rec.index_bytes / 2 ** 20).toFixed(1)} MiB (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  )
  server = await startServer({ dataDir })

  browser = await launchBrowser()
  const admin = await Actor.open(browser, 'admin', server.url)
  const page = admin.page
  await admin.goto('/login')
  await submitPassword(page, 'admin', password)
  const newPassword = `Bench-${Date.now()}-pw!`
  await changeForcedPassword(page, newPassword)
  await inApp(page)
  await openMenu(page, 'sessions', /Sessions/)
  const row = page.getByTestId('sessions-row').first()
  await visible(row)
  // As a person would: the page has finished loading before Replay is clicked.
  await page.waitForLoadState('networkidle')

  // First frame: click Replay, wait for text in the player's terminal.
  const firstFrame = []
  for (let i = 0; i < FIRST_FRAME_RUNS; i++) {
    const ms = await page.evaluate(async () => {
      const button = document.querySelector('[data-testid="sessions-row"] [data-testid="session-replay"]')
      if (!button) throw new Error('no Replay button')
      const painted = () => {
        const rows = document.querySelector('[data-testid="player-screen"] .xterm-rows')
        return rows && rows.textContent.trim() !== ''
      }
      const t0 = performance.now()
      button.click()
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no first frame within 15 s')), 15_000)
        const obs = new MutationObserver(() => {
          if (painted()) {
            obs.disconnect()
            clearTimeout(timer)
            resolve()
          }
        })
        obs.observe(document.body, { subtree: true, childList: true, characterData: true })
      })
      return performance.now() - t0
    })
    const error = page.getByTestId('replay-error')
    if (await error.count()) throw new Error(`the player failed: ${await error.innerText()}`)
    firstFrame.push(ms)
    if (i < FIRST_FRAME_RUNS - 1) {
      await page.getByTestId('replay-dialog').locator('.n-card-header__close').click()
      await page.getByTestId('replay-dialog').waitFor({ state: 'detached' })
    }
  }
  await admin.shot(path.join(repoRoot, 'artifacts', 'bench-replay.png'))

  // Seeks: each resolves when the player has counted one more completed seek and
  // two animation frames have passed (xterm.js paints in one).
  const player = page.getByTestId('recording-player')
  await visible(player)
  // The clicks are real mouse clicks (page.mouse, or a locator's click, which
  // scrolls the marker into view first); the clock starts at the pointerdown the
  // page receives.
  const seekOnce = async (click) => {
    await page.evaluate(() => {
      const p = document.querySelector('[data-testid="recording-player"]')
      const before = Number(p.dataset.seeks)
      window.__seek = new Promise((resolve, reject) => {
        let t0 = null
        const down = () => {
          t0 = performance.now()
          window.removeEventListener('pointerdown', down, true)
        }
        window.addEventListener('pointerdown', down, true)
        // The player counts a seek once xterm.js has drawn its result.
        const obs = new MutationObserver(() => {
          if (t0 === null || Number(p.dataset.seeks) <= before) return
          obs.disconnect()
          clearTimeout(timer)
          resolve({ ms: performance.now() - t0, time: Number(p.dataset.time), inner: Number(p.dataset.seekMs) })
        })
        obs.observe(p, { attributes: true, attributeFilter: ['data-seeks'] })
        const timer = setTimeout(
          () => reject(new Error(`seek not done within 10 s (pointerdown ${t0 !== null})`)),
          10_000,
        )
      })
    })
    await click()
    return page.evaluate(() => window.__seek)
  }

  const markerCount = await player.getByTestId('player-marker').count()
  const duration = Number(await player.getAttribute('data-duration'))
  if (markerCount < MARKER_SEEKS) throw new Error(`only ${markerCount} markers`)
  const markerSeeks = []
  const slow = [] // seeks near or over the target, in order
  const innerMs = []
  const picks = shuffled([...Array(markerCount).keys()]).slice(0, MARKER_SEEKS)
  for (const i of picks) {
    const want = Number(await player.getByTestId('player-marker').nth(i).getAttribute('data-time'))
    const r = await seekOnce(() => player.getByTestId('player-marker').nth(i).click())
    if (Math.abs(r.time - want) > 0.001) throw new Error(`marker ${i}: the player is at ${r.time}, not ${want}`)
    markerSeeks.push(r.ms)
    innerMs.push(r.inner)
    if (r.ms >= SEEK_TARGET_MS * 0.8) slow.push(`marker ${i} at ${want.toFixed(1)} s: ${r.ms.toFixed(1)} ms`)
  }
  const scrubberSeeks = []
  const fractions = shuffled(
    [...Array(SCRUBBER_SEEKS).keys()].map((k) => (k + 0.5) / SCRUBBER_SEEKS),
    7,
  )
  // The terminal takes the recording's size at each moment, so the scrubber moves.
  const rail = player.locator('[data-testid="player-scrubber"] .n-slider-handles')
  for (const f of fractions) {
    await rail.scrollIntoViewIfNeeded()
    const box = await rail.boundingBox()
    const r = await seekOnce(() => page.mouse.click(box.x + f * box.width, box.y + box.height / 2))
    if (Math.abs(r.time - f * duration) > duration / 50) {
      throw new Error(`scrubber at ${f.toFixed(3)}: the player is at ${r.time} of ${duration}`)
    }
    scrubberSeeks.push(r.ms)
    innerMs.push(r.inner)
    if (r.ms >= SEEK_TARGET_MS * 0.8) slow.push(`scrubber at ${r.time.toFixed(1)} s: ${r.ms.toFixed(1)} ms`)
  }
  await admin.shot(path.join(repoRoot, 'artifacts', 'bench-replay-seek.png'))
  if (admin.pageErrors.length) throw new Error(`errors in the page:\n${admin.pageErrors.join('\n')}`)

  const row1 = (name, s, target) =>
    `${name.padEnd(40)} ${String(s.n).padStart(4)} ${s.median.toFixed(1).padStart(8)} ${s.p95
      .toFixed(1)
      .padStart(8)} ${s.p99.toFixed(1).padStart(8)} ${s.max.toFixed(1).padStart(8)}   ${
      target ? `< ${target} ms: ${s.max < target ? 'met' : s.p95 < target ? 'met at p95, not max' : 'MISSED'}` : ''
    }`
  const chromeVersion = browser.version()
  const table = [
    `Recording player in Chromium ${chromeVersion} (headless), ${new Date().toISOString()}`,
    `recording: ${(rec.bytes / 2 ** 20).toFixed(1)} MiB stored (.cast.gz), ${(rec.output_bytes / 2 ** 20).toFixed(1)} MiB of output, ` +
      `${(rec.duration / 60).toFixed(1)} min, ${rec.segments} segments, ${rec.markers} commands, index ${(rec.index_bytes / 2 ** 20).toFixed(1)} MiB`,
    '',
    `${'measure (ms)'.padEnd(40)} ${'n'.padStart(4)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}   target`,
    row1('first frame: first open of the page', stats(firstFrame.slice(0, 1)), FIRST_FRAME_TARGET_MS),
    row1('first frame: later opens', stats(firstFrame.slice(1)), FIRST_FRAME_TARGET_MS),
    row1('seek: marker click → drawn', stats(markerSeeks), SEEK_TARGET_MS),
    row1('seek: scrubber click → drawn', stats(scrubberSeeks), SEEK_TARGET_MS),
    row1('seek: inside the player (data-seek-ms)', stats(innerMs)),
    `seeks over ${SEEK_TARGET_MS * 0.8} ms, in the order made: ${slow.length ? slow.join('; ') : 'none'}`,
  ].join('\n')
  console.log(`\n${table}\n`)
  await mkdir(path.dirname(OUT), { recursive: true })
  await writeFile(OUT, `${table}\n`)
} finally {
  await browser?.close().catch(() => undefined)
  await server?.stop().catch(() => undefined)
  await rm(dataDir, { recursive: true, force: true })
}
