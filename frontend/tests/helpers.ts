// Test helpers: a scripted fetch that records requests.
import { ApiClient } from '@/api/client'
import { memoryCredentials, type Credentials } from '@/api/credentials'
import type { Endpoint } from '@/api/host'

/** Recorded is one request seen by the fake fetch. */
export interface Recorded {
  method: string
  url: string
  headers: Record<string, string>
  body: unknown
}

/** Reply is a scripted answer. */
export interface Reply {
  status?: number
  json?: unknown
  text?: string
}

/** fakeFetch answers requests in order (or by a routing function) and records them. */
export function fakeFetch(route: (r: Recorded) => Reply | Error) {
  const seen: Recorded[] = []
  const fetchFn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = (init?.headers ?? {}) as Record<string, string>
    let body: unknown = init?.body
    if (typeof body === 'string' && headers['Content-Type'] === 'application/json') body = JSON.parse(body)
    const rec: Recorded = { method: init?.method ?? 'GET', url: String(input), headers, body }
    seen.push(rec)
    const reply = route(rec)
    if (reply instanceof Error) throw reply
    const status = reply.status ?? 200
    const text = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json))
    return new Response(status === 204 ? null : text, { status })
  }
  return { fetch: fetchFn as typeof fetch, seen }
}

/** testClient builds an ApiClient over a fake fetch. */
export function testClient(
  route: (r: Recorded) => Reply | Error,
  opts: { endpoint?: Endpoint; credentials?: Credentials; onUnauthorized?: () => void } = {},
) {
  const f = fakeFetch(route)
  const credentials = opts.credentials ?? memoryCredentials()
  const client = new ApiClient({
    endpoint: async () => opts.endpoint ?? { baseUrl: '', launchToken: null },
    credentials,
    fetch: f.fetch,
    onUnauthorized: opts.onUnauthorized,
  })
  return { client, seen: f.seen, credentials }
}
