// Host detection: the UI runs either in a browser served by portcullisd, or in
// the Wails desktop window, which exposes a binding telling where the backend
// listens and which per-launch secret to present. Nothing outside src/api knows
// which of the two it is.
import type { RecordingIndex } from './types'

/** Backend answers where the desktop app's backend listens (Wails binding). */
export interface BackendInfo {
  base_url: string
  launch_token: string
  profile?: string
  kind?: 'local' | 'remote'
}

/** Profile is a backend the desktop window works with. */
export interface Profile {
  id: string
  name: string
  kind: 'local' | 'remote'
  url?: string
  fingerprint?: string
}

/** Profiles lists the desktop's profiles and names the current one. */
export interface Profiles {
  current: string
  profiles: Profile[]
}

/** RemoteProbe is what the desktop learnt of a server before the user trusts it. */
export interface RemoteProbe {
  url: string
  fingerprint: string
  subject: string
  not_after: string
}

/** DesktopBinding is the part of the Wails `App` binding the UI uses. */
export interface DesktopBinding {
  Backend: () => Promise<BackendInfo>
}

/** ProfileBinding is the desktop's profile management (Wails `App` binding). */
export interface ProfileBinding {
  Profiles: () => Promise<Profiles>
  ProbeRemote: (url: string) => Promise<RemoteProbe>
  AddRemote: (name: string, url: string, fingerprint: string) => Promise<Profile>
  SwitchProfile: (id: string) => Promise<Profile>
  RemoveProfile: (id: string) => Promise<void>
}

/** TokenBinding keeps the session token of the current profile, sealed by the desktop app. */
export interface TokenBinding {
  SaveToken: (token: string) => Promise<void>
  LoadToken: () => Promise<string>
}

/** ReplayInfo describes a recording or bundle the desktop opened for offline replay. */
export interface ReplayInfo {
  id: string
  name: string
  kind: 'cast' | 'guac'
  bundle: boolean
  verified: boolean
  signer?: string
  problems?: string[]
  session?: {
    session_id: string
    username: string
    asset_name: string
    account: string
    protocol: string
    started_at: string
    ended_at?: string | null
    end_reason: string
    source_ip: string
  } | null
}

/** ReplayBinding opens recordings from disk with no server (desktop app). */
export interface ReplayBinding {
  OpenRecording: (path: string) => Promise<ReplayInfo>
  ReplayIndex: (id: string) => Promise<RecordingIndex>
  ReplaySegment: (id: string, i: number) => Promise<string>
  ReplayKeyframe: (id: string, i: number) => Promise<string>
  ReplayFile: (id: string) => Promise<string>
  PendingRecordings: () => Promise<string[] | null>
}

/** WailsRuntime is the part of the Wails runtime the UI uses. */
export interface WailsRuntime {
  EventsOn: (name: string, cb: (...data: unknown[]) => void) => () => void
}

declare global {
  interface Window {
    go?: { app?: { App?: Partial<DesktopBinding & ProfileBinding & TokenBinding & ReplayBinding> } }
    runtime?: Partial<WailsRuntime>
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

/** profileBinding returns the desktop's profile functions, or null in a browser. */
export function profileBinding(w: Pick<Window, 'go'> | undefined = globalThis.window): ProfileBinding | null {
  const app = w?.go?.app?.App
  if (!app || typeof app.Profiles !== 'function') return null
  const { Profiles, ProbeRemote, AddRemote, SwitchProfile, RemoveProfile } = app
  if (!ProbeRemote || !AddRemote || !SwitchProfile || !RemoveProfile) return null
  return { Profiles, ProbeRemote, AddRemote, SwitchProfile, RemoveProfile }
}

/** tokenBinding returns the desktop's token keeping, or null in a browser. */
export function tokenBinding(w: Pick<Window, 'go'> | undefined = globalThis.window): TokenBinding | null {
  const app = w?.go?.app?.App
  if (!app || typeof app.SaveToken !== 'function' || typeof app.LoadToken !== 'function') return null
  return { SaveToken: app.SaveToken, LoadToken: app.LoadToken }
}

/** replayBinding returns the desktop's offline replay, or null in a browser. */
export function replayBinding(w: Pick<Window, 'go'> | undefined = globalThis.window): ReplayBinding | null {
  const app = w?.go?.app?.App
  if (!app || typeof app.OpenRecording !== 'function') return null
  const { OpenRecording, ReplayIndex, ReplaySegment, ReplayKeyframe, ReplayFile, PendingRecordings } = app
  if (!ReplayIndex || !ReplaySegment || !ReplayKeyframe || !ReplayFile || !PendingRecordings) return null
  return { OpenRecording, ReplayIndex, ReplaySegment, ReplayKeyframe, ReplayFile, PendingRecordings }
}

/** onReplayOpen calls cb with each file the desktop's menu or a drop asks to open; it answers the unsubscribe. */
export function onReplayOpen(
  cb: (path: string) => void,
  w: Pick<Window, 'runtime'> | undefined = globalThis.window,
): () => void {
  const on = w?.runtime?.EventsOn
  if (typeof on !== 'function') return () => undefined
  return on('replay:open', (path: unknown) => {
    if (typeof path === 'string' && path) cb(path)
  })
}
