import { describe, expect, it } from 'vitest'
import { terminalApi } from '@/api/terminal'
import { testClient } from '../helpers'

describe('terminal api', () => {
  it('asks for a connection token with the asset and, when chosen, the account', async () => {
    const { client, seen } = testClient(() => ({
      status: 201,
      json: {
        token: 'pct_x',
        expires_at: '',
        path: '/ws/terminal',
        asset_name: 'web01',
        account: 'root',
        protocol: 'ssh',
      },
    }))
    const api = terminalApi(client)
    const tok = await api.connectToken(7, 'root')
    expect(tok.token).toBe('pct_x')
    await api.connectToken(8)
    expect(seen.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/v1/terminal/tokens', { asset_id: 7, account: 'root' }],
      ['POST', '/api/v1/terminal/tokens', { asset_id: 8 }],
    ])
  })

  it('builds the WebSocket URL of the server, with the desktop launch token in the query', async () => {
    const desktop = testClient(() => ({ status: 204 }), {
      endpoint: { baseUrl: 'http://127.0.0.1:4711', launchToken: 'L1' },
    }).client
    expect(await desktop.socketUrl('/ws/terminal', { cols: 80, rows: 24 })).toBe(
      'ws://127.0.0.1:4711/ws/terminal?cols=80&rows=24&launch_token=L1',
    )
    const remote = testClient(() => ({ status: 204 }), {
      endpoint: { baseUrl: 'https://bastion.example', launchToken: null },
    }).client
    expect(await remote.socketUrl('/ws/terminal')).toBe('wss://bastion.example/ws/terminal')
  })
})
