import { describe, expect, it } from 'vitest'
import type { LoginResponse, Me } from '@/api'
import {
  UnexpectedLoginStatus,
  acknowledgeRecoveryCodes,
  advanceLogin,
  currentStage,
  initialLoginFlow,
  progressStages,
  type LoginFlow,
} from '@/auth/loginFlow'

const me = { id: 1, username: 'alice' } as Me

function run(responses: LoginResponse[]): LoginFlow[] {
  const states: LoginFlow[] = []
  let s = initialLoginFlow()
  for (const r of responses) {
    s = advanceLogin(s, r)
    states.push(s)
  }
  return states
}

describe('login step machine', () => {
  it('starts on the password step', () => {
    expect(initialLoginFlow()).toMatchObject({ step: 'password', stepToken: null, sessionToken: null })
  })

  it('goes straight to the app on ok', () => {
    const [s] = run([{ status: 'ok', token: 'pcs_1', user: me }])
    expect(s).toMatchObject({ step: 'done', sessionToken: 'pcs_1', stepToken: null, user: me })
  })

  it('walks password -> change password -> otp -> ok, carrying each step token', () => {
    const states = run([
      { status: 'password_change_required', token: 'pcx_a' },
      { status: 'otp_required', token: 'pcx_b' },
      { status: 'ok', token: 'pcs_final', user: me },
    ])
    expect(states.map((s) => s.step)).toEqual(['change_password', 'otp', 'done'])
    expect(states.map((s) => s.stepToken)).toEqual(['pcx_a', 'pcx_b', null])
    expect(states[2].sessionToken).toBe('pcs_final')
    expect(states[2].passedSteps).toEqual(['password', 'change_password', 'otp'])
  })

  it('walks password -> enrol -> recovery codes -> done', () => {
    let [enroll, codes] = run([
      { status: 'mfa_enroll_required', token: 'pcx_e' },
      { status: 'ok', token: 'pcs_2', recovery_codes: ['aaaa-bbbb', 'cccc-dddd'] },
    ])
    expect(enroll).toMatchObject({ step: 'mfa_enroll', stepToken: 'pcx_e' })
    expect(codes).toMatchObject({
      step: 'recovery_codes',
      sessionToken: 'pcs_2',
      recoveryCodes: ['aaaa-bbbb', 'cccc-dddd'],
    })
    codes = acknowledgeRecoveryCodes(codes)
    expect(codes).toMatchObject({ step: 'done', sessionToken: 'pcs_2', recoveryCodes: [] })
  })

  it('keeps the user learned from an earlier step', () => {
    const states = run([
      { status: 'otp_required', token: 'pcx_1', user: me },
      { status: 'ok', token: 'pcs_1' },
    ])
    expect(states[1].user).toBe(me)
  })

  it('ignores acknowledgement outside the recovery codes step', () => {
    const s = initialLoginFlow()
    expect(acknowledgeRecoveryCodes(s)).toBe(s)
  })

  const bad: [string, LoginResponse][] = [
    ['an unknown status', { status: 'sms_required' as LoginResponse['status'], token: 'x' }],
    ['ok without a token', { status: 'ok', token: '' }],
    ['a step without a token', { status: 'otp_required', token: '' }],
  ]
  for (const [name, res] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => advanceLogin(initialLoginFlow(), res)).toThrow(UnexpectedLoginStatus)
    })
  }
})

describe('login progress', () => {
  it('shows sign in, verification and done for a plain login', () => {
    expect(progressStages(initialLoginFlow())).toEqual(['sign_in', 'verify', 'done'])
  })

  it('adds the password stage once a change was asked', () => {
    const [s] = run([{ status: 'password_change_required', token: 'pcx' }])
    expect(progressStages(s)).toEqual(['sign_in', 'change_password', 'verify', 'done'])
    const s2 = advanceLogin(s, { status: 'otp_required', token: 'pcx2' })
    expect(progressStages(s2)).toEqual(['sign_in', 'change_password', 'verify', 'done'])
  })

  it('maps steps to stages', () => {
    expect(currentStage('password')).toBe('sign_in')
    expect(currentStage('change_password')).toBe('change_password')
    expect(currentStage('otp')).toBe('verify')
    expect(currentStage('mfa_enroll')).toBe('verify')
    expect(currentStage('recovery_codes')).toBe('verify')
    expect(currentStage('done')).toBe('done')
  })
})
