/** ApiErrorBody is the JSON error envelope of the REST API. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string }
}

/** ApiError is a failed API call: an HTTP error answer or a network failure. */
export class ApiError extends Error {
  /** status is the HTTP status, 0 when the backend could not be reached. */
  readonly status: number
  /** code is the API error code (validation, conflict, ...) or 'network'. */
  readonly code: string
  /** field names the offending input field, when the API says which. */
  readonly field: string | null

  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field
  }
}

const codeByStatus: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  423: 'locked',
  429: 'too_many_requests',
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  if (typeof v !== 'object' || v === null) return false
  const e = (v as { error?: unknown }).error
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string'
}

/** parseErrorBody turns an error answer's status and body text into an ApiError. */
export function parseErrorBody(status: number, text: string, statusText = ''): ApiError {
  const fallbackCode = codeByStatus[status] ?? (status >= 500 ? 'internal' : 'error')
  try {
    const body: unknown = JSON.parse(text)
    if (isErrorBody(body)) {
      const { code, message, field } = body.error
      return new ApiError(status, code || fallbackCode, message, field ? field : null)
    }
  } catch {
    // not JSON: a proxy or the Go server's plain-text error
  }
  const message = text.trim().slice(0, 300) || statusText || `HTTP ${status}`
  return new ApiError(status, fallbackCode, message)
}

/** errorFromResponse reads a failed fetch Response into an ApiError. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let text = ''
  try {
    text = await res.text()
  } catch {
    // body unreadable: keep the status alone
  }
  return parseErrorBody(res.status, text, res.statusText)
}

/** networkError wraps a fetch failure (backend unreachable). */
export function networkError(err: unknown): ApiError {
  const detail = err instanceof Error ? err.message : String(err)
  return new ApiError(0, 'network', detail || 'network error')
}

/** isApiError narrows an unknown thrown value. */
export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError
}
