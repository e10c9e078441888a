import type { ApiClient } from './client'
import type { LoginResponse, Me, MfaSetup } from './types'

/** authApi holds the login steps and the current-user calls. */
export function authApi(client: ApiClient) {
  return {
    /** login starts a login; no session token is sent. */
    login: (username: string, password: string, otp?: string) =>
      client.post<LoginResponse>('/auth/login', { username, password, ...(otp ? { otp } : {}) }, { anonymous: true }),
    /** otp answers the OTP step with a code or a recovery code. */
    otp: (stepToken: string, otp: string) => client.post<LoginResponse>('/auth/otp', { otp }, { token: stepToken }),
    /** changePassword answers the password-change step (stepToken) or changes the password of the session. */
    changePassword: (newPassword: string, opts: { stepToken?: string; oldPassword?: string } = {}) =>
      client.post<LoginResponse>(
        '/auth/password',
        { new_password: newPassword, ...(opts.oldPassword ? { old_password: opts.oldPassword } : {}) },
        opts.stepToken ? { token: opts.stepToken } : {},
      ),
    /** mfaSetup creates a pending TOTP secret (step token or session). */
    mfaSetup: (stepToken?: string) =>
      client.post<MfaSetup>('/auth/mfa/setup', undefined, stepToken ? { token: stepToken } : {}),
    /** mfaConfirm enables TOTP with a first code and returns the recovery codes once. */
    mfaConfirm: (otp: string, stepToken?: string) =>
      client.post<LoginResponse>('/auth/mfa/confirm', { otp }, stepToken ? { token: stepToken } : {}),
    logout: () => client.post<void>('/auth/logout'),
    /** setupStatus tells whether the desktop's first-run wizard is due. */
    setupStatus: () => client.get<{ needed: boolean }>('/setup', { anonymous: true }),
    /** setup chooses the first administrator's password (desktop first run). */
    setup: (password: string) => client.post<void>('/setup', { password }, { anonymous: true }),
    me: () => client.get<Me>('/me'),
  }
}
