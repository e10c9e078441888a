// Package api: the only place that talks to the backend or to the desktop host.
import { inject, type InjectionKey } from 'vue'
import { adminApi } from './admin'
import { auditApi } from './audit'
import { authApi } from './auth'
import { desktopApi } from './desktop'
import { ApiClient, type ClientOptions } from './client'
import { persistedCredentials, storageCredentials } from './credentials'
import { cachedEndpoint, resolveEndpoint, tokenBinding } from './host'
import { meApi } from './me'
import { liveApi } from './live'
import { terminalApi } from './terminal'

export { ApiClient } from './client'
export { ApiError, isApiError } from './errors'
export type * from './types'
export type * from './admin'
export type * from './terminal'
export type * from './desktop'
export { DESKTOP_PROTOCOLS } from './desktop'
export type * from './live'
export type { Resource } from './resource'
export { listAll } from './resource'
export { isDesktop, onReplayOpen, profileBinding, replayBinding } from './host'
export type { Profile, Profiles, RemoteProbe, ReplayBinding, ReplayInfo } from './host'

/** createApi groups every backend call over one client. */
export function createApi(client: ApiClient) {
  return {
    client,
    auth: authApi(client),
    me: meApi(client),
    admin: adminApi(client),
    audit: auditApi(client),
    terminal: terminalApi(client),
    desktop: desktopApi(client),
    live: liveApi(client),
  }
}

/** Api is the whole backend surface used by the UI. */
export type Api = ReturnType<typeof createApi>

/** createHostApi wires the API for the host the UI runs in (browser or desktop). */
export function createHostApi(opts: Partial<ClientOptions> = {}): Api {
  const base = storageCredentials(window.sessionStorage)
  const tokens = tokenBinding(window)
  return createApi(
    new ApiClient({
      endpoint: cachedEndpoint(() => resolveEndpoint(window)),
      credentials: tokens ? persistedCredentials(base, tokens.SaveToken) : base,
      ...opts,
    }),
  )
}

/**
 * restoreToken puts the desktop's saved token of the current profile into the
 * page's credentials when it has none (a restart of the app); in a browser it
 * does nothing. A stale token is refused by the server and cleared as usual.
 */
export async function restoreToken(api: Api): Promise<void> {
  const tokens = tokenBinding(window)
  if (!tokens || api.client.credentials.token()) return
  try {
    const saved = await tokens.LoadToken()
    if (saved) storageCredentials(window.sessionStorage).setToken(saved)
  } catch {
    // nothing saved, or the app cannot open it: log in again
  }
}

/** apiKey provides the Api to components and stores. */
export const apiKey: InjectionKey<Api> = Symbol('portcullis-api')

/** useApi returns the Api provided by the app. */
export function useApi(): Api {
  const api = inject(apiKey)
  if (!api) throw new Error('api: not provided')
  return api
}
