// Shared pieces of the end-to-end suites: REST calls to the server under test
// and a step runner that stops a suite at its first failure and reports it.
import assert from 'node:assert/strict'
import { test } from 'node:test'

/** apiOf returns REST helpers bound to a server started by startServer. */
export function apiOf(server) {
  /** api performs one call and answers { status, json, text }. */
  async function api(method, p, token, body, headers = {}) {
    const res = await fetch(`${server().url}/api/v1${p}`, {
      method,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      // not JSON
    }
    return { status: res.status, json, text }
  }

  /** must is api with the status asserted; it answers the decoded body. */
  async function must(method, p, token, body, want, headers) {
    const r = await api(method, p, token, body, headers)
    assert.equal(r.status, want, `${method} ${p}: ${r.text}`)
    return r.json
  }

  /** login answers a session token, changing a forced password on the way. */
  async function login(username, password, newPassword) {
    let r = await must('POST', '/auth/login', null, { username, password }, 200)
    if (r.status === 'password_change_required') {
      r = await must('POST', '/auth/password', r.token, { new_password: newPassword }, 200)
    }
    assert.equal(r.status, 'ok', `login ${username}: ${JSON.stringify(r)}`)
    return r.token
  }

  return { api, must, login }
}

/**
 * stepper returns step(name, fn, opts): a test that is skipped once an
 * earlier step failed, fails on uncaught page exceptions of any actor, and on
 * failure saves each actor's screenshot and console and prints the server log.
 */
export function stepper({ suite, actors, server, state = { failed: null } }) {
  return function step(name, fn, { timeout = 45_000 } = {}) {
    test(name, { timeout: timeout + 10_000 }, async (t) => {
      if (state.failed) {
        t.skip(`skipped: "${state.failed}" failed`)
        return
      }
      let timer
      try {
        await Promise.race([
          fn(t),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`step timed out after ${timeout} ms`)), timeout)
          }),
        ])
        for (const a of actors.values())
          assert.deepEqual(a.pageErrors, [], `uncaught exceptions in the page of ${a.name}`)
      } catch (err) {
        state.failed = name
        const lines = [`\n=== e2e step failed: ${name}`, String(err?.stack || err)]
        for (const a of actors.values()) {
          const r = await a
            .report(`FAILED-${suite}-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 50)}`)
            .catch(() => null)
          if (r) lines.push(`--- ${a.name} at ${r.url}`, ...r.files.map((f) => `saved ${f}`), ...r.consoleErrors)
        }
        lines.push('--- portcullisd log ---', server()?.log() ?? '(no server)')
        process.stderr.write(lines.join('\n') + '\n')
        throw err
      } finally {
        clearTimeout(timer)
      }
    })
  }
}
