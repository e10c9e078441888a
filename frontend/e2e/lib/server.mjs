// Starts a throw-away portcullisd for the end-to-end tests: a fresh data dir
// (SQLite), HTTP on a free loopback port learnt from its stdout, no SSH listener.
import { spawn } from 'node:child_process'
import { access, constants, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

/** defaultBinary is $PORTCULLISD, else bin/portcullisd of the repository (built by `make backend`). */
export const defaultBinary = () => process.env.PORTCULLISD || path.resolve(here, '../../../bin/portcullisd')

const URL_LINE = /Web UI and API: (http:\/\/\S+?)\/?\s*$/m

/**
 * startServer runs `portcullisd serve` and resolves once /healthz answers 200.
 * It answers { url, dataDir, adminPassword, log(), stop() }. With dataDir it
 * serves that directory (made by an earlier start) and leaves it in place;
 * otherwise it makes a fresh one and removes it when the server stops.
 */
export async function startServer({ binary = defaultBinary(), timeoutMs = 20_000, dataDir: given } = {}) {
  await access(binary, constants.X_OK).catch(() => {
    throw new Error(`portcullisd: ${binary} is not an executable: build it with \`make backend\` or set PORTCULLISD`)
  })
  const dataDir = given ?? (await mkdtemp(path.join(tmpdir(), 'portcullis-e2e-')))
  const removeDataDir = () => (given ? undefined : rm(dataDir, { recursive: true, force: true }))
  // The server reads PORTCULLIS_* from the environment: keep the caller's out of it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS_')))
  // Plain HTTP on loopback: the browser tests test the UI; TLS has its own tests (backend/server).
  const args = [
    'serve',
    '--data-dir',
    dataDir,
    '--http',
    '127.0.0.1:0',
    '--ssh',
    '',
    '--tls',
    'off',
    '--log-level',
    'debug',
  ]
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })

  const lines = []
  let stdout = ''
  const collect = (stream, name) => {
    let rest = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk) => {
      if (name === 'stdout') stdout += chunk
      rest += chunk
      const parts = rest.split('\n')
      rest = parts.pop()
      for (const l of parts) lines.push(`${name}: ${l}`)
    })
    stream.on('end', () => rest && lines.push(`${name}: ${rest}`))
  }
  collect(child.stdout, 'stdout')
  collect(child.stderr, 'stderr')

  let exited = null
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal }
      resolve(exited)
    })
    child.on('error', (err) => {
      exited = { error: err }
      resolve(exited)
    })
  })
  // Never leave the server running, even when the test process dies on an exception.
  const killOnExit = () => child.exitCode === null && child.kill('SIGKILL')
  process.on('exit', killOnExit)

  const log = () => lines.join('\n')
  const fail = async (why) => {
    if (!exited) child.kill('SIGKILL')
    await exit
    await removeDataDir()
    throw new Error(`portcullisd (${binary}): ${why}\n--- server log ---\n${log()}`)
  }

  const deadline = Date.now() + timeoutMs
  let url = null
  while (!url) {
    if (exited) return fail(`exited before listening: ${JSON.stringify(exited)}`)
    if (Date.now() > deadline) return fail(`no "Web UI and API:" line within ${timeoutMs} ms`)
    url = URL_LINE.exec(stdout)?.[1] ?? null
    if (!url) await new Promise((r) => setTimeout(r, 50))
  }
  for (;;) {
    if (exited) return fail(`exited: ${JSON.stringify(exited)}`)
    if (Date.now() > deadline) return fail(`${url}/healthz not ready within ${timeoutMs} ms`)
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) break
    await new Promise((r) => setTimeout(r, 100))
  }

  const passwordFile = path.join(dataDir, 'initial-admin-password')
  const adminPassword = (await readFile(passwordFile, 'utf8')).trim()
  if (!adminPassword) return fail(`${passwordFile} is empty`)

  return {
    url,
    dataDir,
    adminPassword,
    log,
    /** stop ends the server (SIGTERM, then SIGKILL after 5 s) and removes its data dir (unless given). */
    async stop() {
      if (!exited) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exit
        clearTimeout(timer)
      }
      process.off('exit', killOnExit)
      await removeDataDir()
      return exited
    },
  }
}
