/** Credentials holds the session token and the organization chosen by a system admin. */
export interface Credentials {
  token(): string | null
  setToken(token: string | null): void
  org(): string | null
  setOrg(org: string | null): void
}

const TOKEN_KEY = 'portcullis.token'
const ORG_KEY = 'portcullis.org'

/**
 * storageCredentials keeps the credentials in a Storage (sessionStorage in the
 * app): they survive a reload of the tab and die with it.
 */
export function storageCredentials(storage: Storage): Credentials {
  const read = (k: string) => {
    try {
      return storage.getItem(k)
    } catch {
      return null
    }
  }
  const write = (k: string, v: string | null) => {
    try {
      if (v === null || v === '') storage.removeItem(k)
      else storage.setItem(k, v)
    } catch {
      // storage disabled: the credentials only live in this page
    }
  }
  return {
    token: () => read(TOKEN_KEY),
    setToken: (t) => write(TOKEN_KEY, t),
    org: () => read(ORG_KEY),
    setOrg: (o) => write(ORG_KEY, o),
  }
}

/** memoryCredentials keeps the credentials in memory (tests). */
export function memoryCredentials(token: string | null = null, org: string | null = null): Credentials {
  let t = token
  let o = org
  return {
    token: () => t,
    setToken: (v) => {
      t = v || null
    },
    org: () => o,
    setOrg: (v) => {
      o = v || null
    },
  }
}

/**
 * persistedCredentials adds the desktop's sealed token keeping to base: every
 * new token (login) and its removal (logout, a refused token) is handed to
 * save, which seals it for the current profile; nothing else is persisted.
 */
export function persistedCredentials(base: Credentials, save: (token: string) => Promise<void>): Credentials {
  return {
    ...base,
    setToken: (t) => {
      base.setToken(t)
      save(t ?? '').catch(() => undefined)
    },
  }
}
