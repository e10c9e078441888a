import { isApiError } from '@/api'
import { UnexpectedLoginStatus } from '@/auth/loginFlow'

type Translate = (key: string, named?: Record<string, unknown>) => string

/** errorText is what the UI says about a failure: the API's message, or a translated fallback. */
export function errorText(err: unknown, t: Translate): string {
  if (isApiError(err)) {
    if (err.code === 'network') return t('errors.network', { detail: err.message })
    return err.message || t('errors.unexpected', { detail: err.code })
  }
  if (err instanceof UnexpectedLoginStatus) return t('errors.loginStatus')
  if (err instanceof Error) return t('errors.unexpected', { detail: err.message })
  if (typeof err === 'string') return err
  return t('errors.unexpected', { detail: String(err) })
}
