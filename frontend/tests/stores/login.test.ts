// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { apiKey, createApi, type LoginResponse } from '@/api'
import { memoryCredentials } from '@/api/credentials'
import { useLoginStore } from '@/stores/login'
import { useSessionStore } from '@/stores/session'
import { testClient, type Recorded, type Reply } from '../helpers'

function setup(route: (r: Recorded) => Reply) {
  const credentials = memoryCredentials()
  const { client, seen } = testClient(route, { credentials })
  const app = createApp({})
  app.provide(apiKey, createApi(client))
  const pinia = createPinia()
  app.use(pinia)
  setActivePinia(pinia)
  const login = app.runWithContext(() => useLoginStore())
  const session = app.runWithContext(() => useSessionStore())
  return { login, session, seen, credentials }
}

const path = (r: Recorded) => r.url.replace('/api/v1', '')
const ok = (json: LoginResponse | object): Reply => ({ json })

describe('login store', () => {
  beforeEach(() => window.sessionStorage.clear())

  it('runs password -> change -> otp -> ok with each step token in the next call', async () => {
    const { login, session, seen, credentials } = setup((r) => {
      switch (path(r)) {
        case '/auth/login':
          return ok({ status: 'password_change_required', token: 'pcx_pw' })
        case '/auth/password':
          return ok({ status: 'otp_required', token: 'pcx_otp' })
        case '/auth/otp':
          return ok({ status: 'ok', token: 'pcs_session', user: { id: 1, username: 'alice' } })
        default:
          return { status: 404, json: { error: { code: 'not_found', message: 'no' } } }
      }
    })

    expect(await login.submitPassword('alice', 'initial')).toBe(true)
    expect(login.flow.step).toBe('change_password')
    expect(await login.submitNewPassword('N3w-passw0rd!')).toBe(true)
    expect(login.flow.step).toBe('otp')
    expect(await login.submitOtp(' 123456 ')).toBe(true)
    expect(login.flow.step).toBe('done')

    expect(seen.map(path)).toEqual(['/auth/login', '/auth/password', '/auth/otp'])
    expect(seen[0].headers['Authorization']).toBeUndefined()
    expect(seen[0].body).toEqual({ username: 'alice', password: 'initial' })
    expect(seen[1].headers['Authorization']).toBe('Bearer pcx_pw')
    expect(seen[1].body).toEqual({ new_password: 'N3w-passw0rd!' })
    expect(seen[2].headers['Authorization']).toBe('Bearer pcx_otp')
    expect(seen[2].body).toEqual({ otp: '123456' })

    expect(session.token).toBe('pcs_session')
    expect(credentials.token()).toBe('pcs_session')
    expect(session.me?.username).toBe('alice')
  })

  it('enrols TOTP, shows the recovery codes, then enters the app', async () => {
    const { login, session, seen } = setup((r) => {
      switch (path(r)) {
        case '/auth/login':
          return ok({ status: 'mfa_enroll_required', token: 'pcx_enroll' })
        case '/auth/mfa/setup':
          return ok({
            secret: 'JBSWY3DPEHPK3PXP',
            otpauth_uri: 'otpauth://totp/Portcullis:alice?secret=JBSWY3DPEHPK3PXP',
          })
        case '/auth/mfa/confirm':
          return ok({ status: 'ok', token: 'pcs_s', recovery_codes: ['r1', 'r2'] })
        default:
          return { status: 404, json: { error: { code: 'not_found', message: 'no' } } }
      }
    })
    await login.submitPassword('alice', 'pw')
    expect(login.flow.step).toBe('mfa_enroll')
    const enrollment = await login.startEnrollment()
    expect(enrollment?.secret).toBe('JBSWY3DPEHPK3PXP')
    expect(seen[1].headers['Authorization']).toBe('Bearer pcx_enroll')
    await login.confirmEnrollment('654321')
    expect(seen[2].headers['Authorization']).toBe('Bearer pcx_enroll')
    expect(seen[2].body).toEqual({ otp: '654321' })
    expect(login.flow.step).toBe('recovery_codes')
    expect(login.flow.recoveryCodes).toEqual(['r1', 'r2'])
    // the session starts only once the codes were acknowledged
    expect(session.token).toBeNull()
    login.acknowledgeCodes()
    expect(login.flow.step).toBe('done')
    expect(session.token).toBe('pcs_s')
  })

  it('stays on the step and keeps the error when a code is refused', async () => {
    const { login, session } = setup((r) =>
      path(r) === '/auth/login'
        ? ok({ status: 'otp_required', token: 'pcx_otp' })
        : { status: 401, json: { error: { code: 'unauthorized', message: 'invalid code' } } },
    )
    await login.submitPassword('alice', 'pw')
    expect(await login.submitOtp('000000')).toBe(false)
    expect(login.flow.step).toBe('otp')
    expect(login.flow.stepToken).toBe('pcx_otp')
    expect(login.error).toMatchObject({ message: 'invalid code' })
    expect(session.token).toBeNull()
    expect(login.busy).toBe(false)
  })

  it('reports a wrong password on the first step', async () => {
    const { login } = setup(() => ({
      status: 401,
      json: { error: { code: 'unauthorized', message: 'invalid username or password' } },
    }))
    expect(await login.submitPassword('alice', 'bad')).toBe(false)
    expect(login.flow.step).toBe('password')
    expect(login.error).toMatchObject({ code: 'unauthorized' })
  })

  it('starts over on reset', async () => {
    const { login } = setup(() => ok({ status: 'otp_required', token: 'pcx' }))
    await login.submitPassword('a', 'b')
    login.reset()
    expect(login.flow.step).toBe('password')
    expect(login.flow.stepToken).toBeNull()
  })
})
