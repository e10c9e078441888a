// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest'
import { buildQuery } from '@/api/client'
import { memoryCredentials, storageCredentials } from '@/api/credentials'
import { ApiError } from '@/api/errors'
import { testClient } from '../helpers'

describe('buildQuery', () => {
  const cases: [string, Parameters<typeof buildQuery>[0], string][] = [
    ['nothing', undefined, ''],
    ['empty values dropped', { a: '', b: null, c: undefined }, ''],
    [
      'scalars',
      { page: 2, page_size: 50, search: 'web 01', active: true },
      '?page=2&page_size=50&search=web+01&active=true',
    ],
    ['arrays repeat the key', { id: [1, 2] }, '?id=1&id=2'],
    ['sort descending', { sort: '-name' }, '?sort=-name'],
  ]
  for (const [name, query, want] of cases) {
    it(name, () => expect(buildQuery(query)).toBe(want))
  }
})

describe('ApiClient in a browser', () => {
  it('calls same-origin /api/v1 paths with the session token and no launch header', async () => {
    const { client, seen } = testClient(() => ({ json: { items: [], total: 0, page: 1, page_size: 20 } }), {
      credentials: memoryCredentials('pcs_abc'),
    })
    await client.get('/users', { query: { page: 1, sort: 'name' } })
    expect(seen[0].url).toBe('/api/v1/users?page=1&sort=name')
    expect(seen[0].method).toBe('GET')
    expect(seen[0].headers['Authorization']).toBe('Bearer pcs_abc')
    expect(seen[0].headers['X-Portcullis-Launch']).toBeUndefined()
    expect(seen[0].headers['X-Portcullis-Org']).toBeUndefined()
  })

  it('sends the organization chosen by a system admin', async () => {
    const { client, seen } = testClient(() => ({ json: {} }), { credentials: memoryCredentials('pcs_abc', '7') })
    await client.get('/assets')
    expect(seen[0].headers['X-Portcullis-Org']).toBe('7')
  })

  it('sends no Authorization header without a session', async () => {
    const { client, seen } = testClient(() => ({ json: {} }))
    await client.get('/me')
    expect(seen[0].headers['Authorization']).toBeUndefined()
  })

  it('uses a step token instead of the session for a login step', async () => {
    const { client, seen } = testClient(() => ({ json: { status: 'ok', token: 'pcs_new' } }), {
      credentials: memoryCredentials('pcs_old'),
    })
    await client.post('/auth/otp', { otp: '123456' }, { token: 'pcx_step' })
    expect(seen[0].headers['Authorization']).toBe('Bearer pcx_step')
    expect(seen[0].headers['Content-Type']).toBe('application/json')
    expect(seen[0].body).toEqual({ otp: '123456' })
  })

  it('sends nothing for anonymous calls', async () => {
    const { client, seen } = testClient(() => ({ json: {} }), { credentials: memoryCredentials('pcs_old') })
    await client.post('/auth/login', { username: 'a', password: 'b' }, { anonymous: true })
    expect(seen[0].headers['Authorization']).toBeUndefined()
  })

  it('answers undefined for 204', async () => {
    const { client } = testClient(() => ({ status: 204 }))
    await expect(client.delete('/users/3')).resolves.toBeUndefined()
  })

  it('reads blobs for CSV exports', async () => {
    const { client } = testClient(() => ({ text: 'name,address\nweb,10.0.0.1\n' }))
    const blob = await client.get<Blob>('/assets/export', { as: 'blob' })
    expect(await blob.text()).toContain('web,10.0.0.1')
  })

  it('sends raw bodies with their content type (CSV import)', async () => {
    const { client, seen } = testClient(() => ({ json: { created: 1, updated: 0, errors: [] } }))
    await client.request('POST', '/assets/import', { body: 'name\nweb\n', contentType: 'text/csv' })
    expect(seen[0].headers['Content-Type']).toBe('text/csv')
    expect(seen[0].body).toBe('name\nweb\n')
  })
})

describe('ApiClient in the desktop app', () => {
  it('prefixes the backend address and presents the launch token', async () => {
    const { client, seen } = testClient(() => ({ json: {} }), {
      endpoint: { baseUrl: 'http://127.0.0.1:39201', launchToken: 'launch-xyz' },
      credentials: memoryCredentials('pcs_abc'),
    })
    await client.get('/me')
    expect(seen[0].url).toBe('http://127.0.0.1:39201/api/v1/me')
    expect(seen[0].headers['X-Portcullis-Launch']).toBe('launch-xyz')
    expect(seen[0].headers['Authorization']).toBe('Bearer pcs_abc')
  })

  it('presents the launch token on anonymous login calls too', async () => {
    const { client, seen } = testClient(() => ({ json: {} }), {
      endpoint: { baseUrl: 'http://127.0.0.1:1', launchToken: 'launch-xyz' },
    })
    await client.post('/auth/login', {}, { anonymous: true })
    expect(seen[0].headers['X-Portcullis-Launch']).toBe('launch-xyz')
  })

  it('reports an endpoint failure as a network error', async () => {
    const { ApiClient } = await import('@/api/client')
    const client = new ApiClient({
      endpoint: async () => {
        throw new Error('backend not started')
      },
      credentials: memoryCredentials(),
      fetch: vi.fn() as unknown as typeof fetch,
    })
    await expect(client.get('/me')).rejects.toMatchObject({ code: 'network', status: 0 })
  })
})

describe('ApiClient errors', () => {
  it('surfaces the error envelope with its field', async () => {
    const { client } = testClient(() => ({
      status: 400,
      json: { error: { code: 'validation', message: 'port: must be between 1 and 65535', field: 'port' } },
    }))
    const err = await client.post('/assets', {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({
      status: 400,
      code: 'validation',
      field: 'port',
      message: 'port: must be between 1 and 65535',
    })
  })

  it('keeps a plain-text error body as the message', async () => {
    const { client } = testClient(() => ({ status: 502, text: 'Bad Gateway' }))
    await expect(client.get('/me')).rejects.toMatchObject({
      status: 502,
      code: 'internal',
      message: 'Bad Gateway',
      field: null,
    })
  })

  it('reports fetch failures as network errors', async () => {
    const { client } = testClient(() => new TypeError('Failed to fetch'))
    await expect(client.get('/me')).rejects.toMatchObject({ status: 0, code: 'network', message: 'Failed to fetch' })
  })

  it('calls onUnauthorized when the session token is refused', async () => {
    const onUnauthorized = vi.fn()
    const { client } = testClient(
      () => ({ status: 401, json: { error: { code: 'unauthorized', message: 'token expired' } } }),
      {
        credentials: memoryCredentials('pcs_abc'),
        onUnauthorized,
      },
    )
    await expect(client.get('/me')).rejects.toMatchObject({ status: 401 })
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
  })

  it('does not end the session when a login step is refused', async () => {
    const onUnauthorized = vi.fn()
    const { client } = testClient(
      () => ({ status: 401, json: { error: { code: 'unauthorized', message: 'invalid code' } } }),
      {
        credentials: memoryCredentials(null),
        onUnauthorized,
      },
    )
    await expect(client.post('/auth/otp', { otp: '000000' }, { token: 'pcx_step' })).rejects.toMatchObject({
      message: 'invalid code',
    })
    await expect(client.post('/auth/login', {}, { anonymous: true })).rejects.toMatchObject({ status: 401 })
    expect(onUnauthorized).not.toHaveBeenCalled()
  })
})

describe('storageCredentials', () => {
  it('keeps the token and the org in the storage given', () => {
    window.sessionStorage.clear()
    const c = storageCredentials(window.sessionStorage)
    expect(c.token()).toBeNull()
    c.setToken('pcs_1')
    c.setOrg('3')
    expect(storageCredentials(window.sessionStorage).token()).toBe('pcs_1')
    expect(storageCredentials(window.sessionStorage).org()).toBe('3')
    c.setToken(null)
    c.setOrg('')
    expect(c.token()).toBeNull()
    expect(c.org()).toBeNull()
  })
})
