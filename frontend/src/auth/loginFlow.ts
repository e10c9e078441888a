// The login step state machine. The server decides each next step through
// LoginResponse.status; this module keeps which step the UI shows and which
// token the next call carries, with no I/O so that it can be tested alone.
import type { LoginResponse, Me } from '@/api'

/** LoginStep is a screen of the login. */
export type LoginStep = 'password' | 'change_password' | 'otp' | 'mfa_enroll' | 'recovery_codes' | 'done'

/** LoginFlow is the state of a login in progress. */
export interface LoginFlow {
  step: LoginStep
  /** stepToken authorizes the next step call (pcx_...). */
  stepToken: string | null
  /** sessionToken is the session once the login succeeded (pcs_...). */
  sessionToken: string | null
  user: Me | null
  /** recoveryCodes are shown once after a TOTP enrolment. */
  recoveryCodes: string[]
  /** passedSteps are the steps already answered, in order. */
  passedSteps: LoginStep[]
}

/** initialLoginFlow is the state before the password is sent. */
export function initialLoginFlow(): LoginFlow {
  return { step: 'password', stepToken: null, sessionToken: null, user: null, recoveryCodes: [], passedSteps: [] }
}

const stepOfStatus: Record<string, LoginStep> = {
  otp_required: 'otp',
  password_change_required: 'change_password',
  mfa_enroll_required: 'mfa_enroll',
}

/** UnexpectedLoginStatus is thrown for a status the UI does not know. */
export class UnexpectedLoginStatus extends Error {
  constructor(status: string) {
    super(`login: unexpected status "${status}"`)
    this.name = 'UnexpectedLoginStatus'
  }
}

/** advanceLogin applies the server's answer to a step and returns the next state. */
export function advanceLogin(flow: LoginFlow, res: LoginResponse): LoginFlow {
  if (!res || typeof res.status !== 'string') throw new UnexpectedLoginStatus(String(res?.status))
  const passedSteps = [...flow.passedSteps, flow.step]
  if (res.status === 'ok') {
    if (!res.token) throw new UnexpectedLoginStatus('ok without token')
    const codes = res.recovery_codes ?? []
    return {
      step: codes.length > 0 ? 'recovery_codes' : 'done',
      stepToken: null,
      sessionToken: res.token,
      user: res.user ?? flow.user,
      recoveryCodes: codes,
      passedSteps,
    }
  }
  const next = stepOfStatus[res.status]
  if (!next) throw new UnexpectedLoginStatus(res.status)
  if (!res.token) throw new UnexpectedLoginStatus(`${res.status} without token`)
  return {
    step: next,
    stepToken: res.token,
    sessionToken: null,
    user: res.user ?? flow.user,
    recoveryCodes: [],
    passedSteps,
  }
}

/** acknowledgeRecoveryCodes leaves the recovery-codes screen for the app. */
export function acknowledgeRecoveryCodes(flow: LoginFlow): LoginFlow {
  if (flow.step !== 'recovery_codes') return flow
  return { ...flow, step: 'done', recoveryCodes: [], passedSteps: [...flow.passedSteps, 'recovery_codes'] }
}

/** ProgressStage is one stage of the login progress bar. */
export type ProgressStage = 'sign_in' | 'change_password' | 'verify' | 'done'

/** progressStages lists the stages shown for the current flow. */
export function progressStages(flow: LoginFlow): ProgressStage[] {
  const seen = new Set<LoginStep>([...flow.passedSteps, flow.step])
  const stages: ProgressStage[] = ['sign_in']
  if (seen.has('change_password')) stages.push('change_password')
  stages.push('verify', 'done')
  return stages
}

/** currentStage maps a step to its progress stage. */
export function currentStage(step: LoginStep): ProgressStage {
  switch (step) {
    case 'password':
      return 'sign_in'
    case 'change_password':
      return 'change_password'
    case 'otp':
    case 'mfa_enroll':
    case 'recovery_codes':
      return 'verify'
    case 'done':
      return 'done'
  }
}
