// Package api: the only place that talks to the backend or to the desktop host.
import { inject, type InjectionKey } from 'vue'
import { adminApi } from './admin'
import { auditApi } from './audit'
import { authApi } from './auth'
import { ApiClient, type ClientOptions } from './client'
import { storageCredentials } from './credentials'
import { cachedEndpoint, resolveEndpoint } from './host'
import { meApi } from './me'
import { liveApi } from './live'
import { terminalApi } from './terminal'

export { ApiClient } from './client'
export { ApiError, isApiError } from './errors'
export type * from './types'
export type * from './admin'
export type * from './terminal'
export type * from './live'
export type { Resource } from './resource'
export { listAll } from './resource'
export { isDesktop, profileBinding } from './host'
export type { Profile, Profiles, RemoteProbe } from './host'

/** createApi groups every backend call over one client. */
export function createApi(client: ApiClient) {
  return {
    client,
    auth: authApi(client),
    me: meApi(client),
    admin: adminApi(client),
    audit: auditApi(client),
    terminal: terminalApi(client),
    live: liveApi(client),
  }
}

/** Api is the whole backend surface used by the UI. */
export type Api = ReturnType<typeof createApi>

/** createHostApi wires the API for the host the UI runs in (browser or desktop). */
export function createHostApi(opts: Partial<ClientOptions> = {}): Api {
  return createApi(
    new ApiClient({
      endpoint: cachedEndpoint(() => resolveEndpoint(window)),
      credentials: storageCredentials(window.sessionStorage),
      ...opts,
    }),
  )
}

/** apiKey provides the Api to components and stores. */
export const apiKey: InjectionKey<Api> = Symbol('portcullis-api')

/** useApi returns the Api provided by the app. */
export function useApi(): Api {
  const api = inject(apiKey)
  if (!api) throw new Error('api: not provided')
  return api
}
