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
