// Host detection: the UI runs either in a browser served by portcullisd, or in
// the Wails desktop window, which exposes a binding telling where the backend
// listens and which per-launch secret to present. Nothing outside src/api knows
// which of the two it is.

/** Backend answers where the desktop app's backend listens (Wails binding). */
export interface BackendInfo {
  base_url: string
  launch_token: string
}

/** DesktopBinding is the part of the Wails `App` binding the UI uses. */
export interface DesktopBinding {
  Backend: () => Promise<BackendInfo>
}

declare global {
  interface Window {
    go?: { app?: { App?: Partial<DesktopBinding> } }
  }
}

/** Endpoint is where API requests go and what extra header they carry. */
export interface Endpoint {
  /** baseUrl prefixes every path: '' (same origin) in a browser. */
  baseUrl: string
  /** launchToken is sent as X-Portcullis-Launch in the desktop app. */
  launchToken: string | null
}

/** desktopBinding returns the Wails binding when running in the desktop window. */
export function desktopBinding(w: Pick<Window, 'go'> | undefined): DesktopBinding | null {
  const backend = w?.go?.app?.App?.Backend
  if (typeof backend !== 'function') return null
  return { Backend: backend }
}

/** isDesktop reports whether the UI runs inside the desktop app. */
export function isDesktop(w: Pick<Window, 'go'> | undefined = globalThis.window): boolean {
  return desktopBinding(w) !== null
}

/** resolveEndpoint asks the host where the backend is. */
export async function resolveEndpoint(w: Pick<Window, 'go'> | undefined = globalThis.window): Promise<Endpoint> {
  const binding = desktopBinding(w)
  if (!binding) return { baseUrl: '', launchToken: null }
  const info = await binding.Backend()
  if (!info || typeof info.base_url !== 'string' || info.base_url === '') {
    throw new Error('desktop backend is not available')
  }
  return { baseUrl: info.base_url.replace(/\/+$/, ''), launchToken: info.launch_token || null }
}

/**
 * cachedEndpoint returns a resolver that asks the host once and remembers the
 * answer; a failed attempt is forgotten so the next request tries again.
 */
export function cachedEndpoint(resolve: () => Promise<Endpoint>): () => Promise<Endpoint> {
  let pending: Promise<Endpoint> | null = null
  return () => {
    if (!pending) {
      pending = resolve().catch((err: unknown) => {
        pending = null
        throw err
      })
    }
    return pending
  }
}
