import type { Credentials } from './credentials'
import { errorFromResponse, networkError } from './errors'
import type { Endpoint } from './host'

/** API_PREFIX is the path prefix of every REST call. */
export const API_PREFIX = '/api/v1'

/** QueryValue is a value of a query-string parameter; empty values are dropped. */
export type QueryValue = string | number | boolean | null | undefined | Array<string | number>

/** Query is a set of query-string parameters. */
export type Query = Record<string, QueryValue>

/** RequestOptions tunes one API call. */
export interface RequestOptions {
  query?: Query
  /** json is sent as a JSON body. */
  json?: unknown
  /** body is sent as is, with contentType. */
  body?: BodyInit
  contentType?: string
  /**
   * token replaces the session token for this call: login step tokens. A 401
   * answer to such a call does not end the session.
   */
  token?: string
  /** anonymous sends no Authorization header. */
  anonymous?: boolean
  /** as selects how the answer is read; json by default (204 gives undefined). */
  as?: 'json' | 'blob' | 'text' | 'bytes'
  /** headers are added to the call's (e.g. Range). */
  headers?: Record<string, string>
}

/** ClientOptions wires an ApiClient. */
export interface ClientOptions {
  endpoint: () => Promise<Endpoint>
  credentials: Credentials
  fetch?: typeof fetch
  /** onUnauthorized is called when the session token is refused (401). */
  onUnauthorized?: () => void
}

/** buildQuery renders a query string ('' or '?a=1&b=2'), dropping empty values. */
export function buildQuery(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) {
      for (const v of value) params.append(key, String(v))
    } else {
      params.append(key, String(value))
    }
  }
  const s = params.toString()
  return s ? `?${s}` : ''
}

/** ApiClient sends requests to the backend of whichever host the UI runs in. */
export class ApiClient {
  readonly credentials: Credentials
  private readonly endpoint: () => Promise<Endpoint>
  private readonly fetchFn: typeof fetch
  private unauthorized: (() => void) | undefined

  constructor(opts: ClientOptions) {
    this.endpoint = opts.endpoint
    this.credentials = opts.credentials
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.unauthorized = opts.onUnauthorized
  }

  /** onUnauthorized sets the callback run when the session token is refused. */
  onUnauthorized(fn: () => void): void {
    this.unauthorized = fn
  }

  /** url returns the absolute URL of an API path (for links and WebSockets). */
  async url(path: string, query?: Query): Promise<string> {
    const ep = await this.endpoint()
    return `${ep.baseUrl}${API_PREFIX}${path}${buildQuery(query)}`
  }

  /**
   * socketUrl returns the ws:// or wss:// URL of a backend WebSocket path
   * (not under /api/v1), with the desktop's launch token in the query (a
   * WebSocket cannot carry headers).
   */
  async socketUrl(path: string, query?: Query): Promise<string> {
    const ep = await this.endpoint()
    const base = ep.baseUrl || globalThis.location?.origin || ''
    const q: Query = { ...(query ?? {}) }
    if (ep.launchToken) q['launch_token'] = ep.launchToken
    return `${base.replace(/^http/, 'ws')}${path}${buildQuery(q)}`
  }

  /** headers returns the headers every call carries. */
  async headers(opts: Pick<RequestOptions, 'token' | 'anonymous'> = {}): Promise<Record<string, string>> {
    const ep = await this.endpoint()
    const h: Record<string, string> = { Accept: 'application/json' }
    if (ep.launchToken) h['X-Portcullis-Launch'] = ep.launchToken
    const token = opts.token ?? this.credentials.token()
    if (token && !opts.anonymous) h['Authorization'] = `Bearer ${token}`
    const org = this.credentials.org()
    if (org) h['X-Portcullis-Org'] = org
    return h
  }

  /** request performs one call and returns its decoded answer or throws an ApiError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    let url: string
    let headers: Record<string, string>
    try {
      url = await this.url(path, opts.query)
      headers = { ...(await this.headers(opts)), ...(opts.headers ?? {}) }
    } catch (err) {
      throw networkError(err)
    }
    let body: BodyInit | undefined
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.json)
    } else if (opts.body !== undefined) {
      if (opts.contentType) headers['Content-Type'] = opts.contentType
      body = opts.body
    }
    let res: Response
    try {
      res = await this.fetchFn(url, { method, headers, body })
    } catch (err) {
      throw networkError(err)
    }
    if (!res.ok) {
      const err = await errorFromResponse(res)
      const usedSession = !opts.token && !opts.anonymous && this.credentials.token() !== null
      if (res.status === 401 && usedSession) this.unauthorized?.()
      throw err
    }
    if (opts.as === 'blob') return (await res.blob()) as T
    if (opts.as === 'text') return (await res.text()) as T
    if (opts.as === 'bytes') return new Uint8Array(await res.arrayBuffer()) as T
    if (res.status === 204) return undefined as T
    const text = await res.text()
    if (!text) return undefined as T
    return JSON.parse(text) as T
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts)
  }

  post<T>(path: string, json?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, json })
  }

  put<T>(path: string, json: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...opts, json })
  }

  patch<T>(path: string, json: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...opts, json })
  }

  delete<T = void>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, opts)
  }
}
