// A login in progress: drives the step machine of auth/loginFlow with API calls.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { useApi, type LoginResponse, type MfaSetup } from '@/api'
import { acknowledgeRecoveryCodes, advanceLogin, initialLoginFlow, type LoginFlow } from '@/auth/loginFlow'
import { useSessionStore } from './session'

/** useLoginStore drives a login in progress, step by step. */
export const useLoginStore = defineStore('login', () => {
  const api = useApi()
  const session = useSessionStore()
  const flow = ref<LoginFlow>(initialLoginFlow())
  const busy = ref(false)
  const error = ref<unknown>(null)
  const enrollment = ref<MfaSetup | null>(null)

  /** run performs a step call; it answers false (and sets error) when the step failed. */
  async function run(call: () => Promise<LoginResponse>): Promise<boolean> {
    busy.value = true
    error.value = null
    try {
      const res = await call()
      flow.value = advanceLogin(flow.value, res)
      if (flow.value.step === 'mfa_enroll') enrollment.value = null
      if (flow.value.step === 'done') finish()
      return true
    } catch (err) {
      error.value = err
      return false
    } finally {
      busy.value = false
    }
  }

  function stepToken(): string {
    const t = flow.value.stepToken
    if (!t) throw new Error('login: no step token')
    return t
  }

  function finish(): void {
    if (flow.value.sessionToken) session.adopt(flow.value.sessionToken, flow.value.user)
  }

  return {
    flow,
    busy,
    error,
    enrollment,
    /** submitPassword sends the username and password. */
    submitPassword: (username: string, password: string) => run(() => api.auth.login(username, password)),
    /** submitOtp sends a TOTP code or a recovery code. */
    submitOtp: (code: string) => run(() => api.auth.otp(stepToken(), code.trim())),
    /** submitNewPassword sends the forced new password. */
    submitNewPassword: (password: string) => run(() => api.auth.changePassword(password, { stepToken: stepToken() })),
    /** startEnrollment asks the server for a TOTP secret. */
    async startEnrollment(): Promise<MfaSetup | null> {
      busy.value = true
      error.value = null
      try {
        enrollment.value = await api.auth.mfaSetup(stepToken())
        return enrollment.value
      } catch (err) {
        error.value = err
        return null
      } finally {
        busy.value = false
      }
    },
    /** confirmEnrollment sends the first code of the new TOTP secret. */
    confirmEnrollment: (code: string) => run(() => api.auth.mfaConfirm(code.trim(), stepToken())),
    /** acknowledgeCodes leaves the recovery codes screen and enters the app. */
    acknowledgeCodes(): void {
      flow.value = acknowledgeRecoveryCodes(flow.value)
      if (flow.value.step === 'done') finish()
    },
    /** reset starts over. */
    reset(): void {
      flow.value = initialLoginFlow()
      error.value = null
      enrollment.value = null
      busy.value = false
    },
  }
})
