import { describe, expect, it, vi } from 'vitest'
import { cachedEndpoint, desktopBinding, isDesktop, resolveEndpoint } from '@/api/host'

const desktopWindow = (info: { base_url: string; launch_token: string }) => ({
  go: { app: { App: { Backend: vi.fn(async () => info) } } },
})

describe('host detection', () => {
  it('finds no desktop binding in a plain browser', () => {
    expect(desktopBinding({})).toBeNull()
    expect(desktopBinding(undefined)).toBeNull()
    expect(isDesktop({})).toBe(false)
    // the real test window of happy-dom has no Wails binding either
    expect(isDesktop()).toBe(false)
  })

  it('ignores a partial or malformed binding', () => {
    expect(desktopBinding({ go: {} })).toBeNull()
    expect(desktopBinding({ go: { app: { App: {} } } })).toBeNull()
    expect(desktopBinding({ go: { app: { App: { Backend: 'nope' as unknown as never } } } })).toBeNull()
  })

  it('finds the Wails binding in the desktop window', () => {
    const w = desktopWindow({ base_url: 'http://127.0.0.1:4567', launch_token: 'secret' })
    expect(isDesktop(w)).toBe(true)
  })
})

describe('resolveEndpoint', () => {
  it('uses the same origin in a browser', async () => {
    await expect(resolveEndpoint({})).resolves.toEqual({ baseUrl: '', launchToken: null })
  })

  it('asks the desktop binding for the backend address and launch token', async () => {
    const w = desktopWindow({ base_url: 'http://127.0.0.1:4567/', launch_token: 'lt-1' })
    await expect(resolveEndpoint(w)).resolves.toEqual({ baseUrl: 'http://127.0.0.1:4567', launchToken: 'lt-1' })
  })

  it('keeps a remote profile URL and sends no launch token when none is given', async () => {
    const w = desktopWindow({ base_url: 'https://bastion.example.com', launch_token: '' })
    await expect(resolveEndpoint(w)).resolves.toEqual({ baseUrl: 'https://bastion.example.com', launchToken: null })
  })

  it('fails when the desktop backend has no address yet', async () => {
    const w = desktopWindow({ base_url: '', launch_token: 'x' })
    await expect(resolveEndpoint(w)).rejects.toThrow(/not available/)
  })
})

describe('cachedEndpoint', () => {
  it('asks once and remembers the answer', async () => {
    const resolve = vi.fn(async () => ({ baseUrl: 'http://x', launchToken: 't' }))
    const get = cachedEndpoint(resolve)
    await get()
    await get()
    expect(resolve).toHaveBeenCalledTimes(1)
  })

  it('forgets a failure so that the next call retries', async () => {
    const resolve = vi
      .fn<() => Promise<{ baseUrl: string; launchToken: string | null }>>()
      .mockRejectedValueOnce(new Error('not yet'))
      .mockResolvedValueOnce({ baseUrl: 'http://x', launchToken: null })
    const get = cachedEndpoint(resolve)
    await expect(get()).rejects.toThrow('not yet')
    await expect(get()).resolves.toEqual({ baseUrl: 'http://x', launchToken: null })
    expect(resolve).toHaveBeenCalledTimes(2)
  })
})

describe('profileBinding', () => {
  it('is null in a browser and with an incomplete binding, the functions of the desktop otherwise', async () => {
    const { profileBinding } = await import('@/api/host')
    expect(profileBinding({})).toBeNull()
    expect(
      profileBinding({ go: { app: { App: { Profiles: async () => ({ current: 'local', profiles: [] }) } } } }),
    ).toBeNull()
    const calls: string[] = []
    const app = {
      Profiles: async () => ({ current: 'local', profiles: [{ id: 'local', name: 'Local', kind: 'local' as const }] }),
      ProbeRemote: async (u: string) => ({ url: u, fingerprint: 'AB', subject: 's', not_after: '' }),
      AddRemote: async (n: string, u: string, f: string) => {
        calls.push(`add ${n} ${u} ${f}`)
        return { id: 'r-1', name: n, kind: 'remote' as const, url: u, fingerprint: f }
      },
      SwitchProfile: async (id: string) => {
        calls.push(`switch ${id}`)
        return { id, name: 'x', kind: 'remote' as const }
      },
      RemoveProfile: async () => undefined,
    }
    const b = profileBinding({ go: { app: { App: app } } })
    expect(b).not.toBeNull()
    expect((await b!.Profiles()).current).toBe('local')
    const p = await b!.AddRemote('prod', 'https://h', 'AB')
    await b!.SwitchProfile(p.id)
    expect(calls).toEqual(['add prod https://h AB', 'switch r-1'])
  })
})
