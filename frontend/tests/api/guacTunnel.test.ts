import { describe, expect, it } from 'vitest'
import Guacamole from 'guacamole-common-js'
import { codePoints, encodeInstruction, socketTunnel } from '@/api/guacTunnel'
import { desktopApi } from '@/api/desktop'
import { testClient } from '../helpers'

/** FakeSocket is the part of a WebSocket the tunnel uses; the test drives its events. */
class FakeSocket {
  readyState = 0
  sent: string[] = []
  closed: number | undefined
  onopen: (() => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  send(data: string) {
    this.sent.push(data)
  }
  close(code?: number) {
    this.closed = code ?? 1005
  }
  open() {
    this.readyState = 1
    this.onopen?.()
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0))

describe('guacamole tunnel', () => {
  it('counts element lengths in code points, as guacd does', () => {
    expect(codePoints('abc')).toBe(3)
    expect(codePoints('日本')).toBe(2)
    expect(codePoints('😀')).toBe(1)
    expect(encodeInstruction(['key', 65307, 1])).toBe('3.key,5.65307,1.1;')
    expect(encodeInstruction(['clipboard', '😀x'])).toBe('9.clipboard,2.😀x;')
  })

  it('passes instructions through, keeps the connection ID and hides internal ones', async () => {
    const sock = new FakeSocket()
    const tunnel = socketTunnel(async () => sock as unknown as WebSocket)
    const got: [string, unknown[]][] = []
    const states: number[] = []
    tunnel.oninstruction = (op, args) => got.push([op, [...args]])
    tunnel.onstatechange = (s) => states.push(s)
    tunnel.connect()
    await flush()
    sock.open()
    sock.onmessage?.({ data: '0.,37.$a1b2c3d4-0000-0000-0000-000000000000;4.size,1.0,4.1024,3.768;' })
    sock.onmessage?.({ data: '4.sync,4.1234;' })
    expect(tunnel.uuid).toBe('$a1b2c3d4-0000-0000-0000-000000000000')
    expect(got).toEqual([
      ['size', ['0', '1024', '768']],
      ['sync', ['1234']],
    ])
    expect(states).toEqual([Guacamole.Tunnel.State.CONNECTING, Guacamole.Tunnel.State.OPEN])
    tunnel.sendMessage('mouse', 10, 20, 1)
    expect(sock.sent).toEqual(['5.mouse,2.10,2.20,1.1;'])
    tunnel.disconnect()
    expect(sock.closed).toBe(1000)
  })

  it('fails with a status when the data is malformed or the socket drops', async () => {
    const sock = new FakeSocket()
    const tunnel = socketTunnel(async () => sock as unknown as WebSocket)
    const errors: string[] = []
    tunnel.onerror = (st) => errors.push(st.message ?? '')
    tunnel.connect()
    await flush()
    sock.open()
    sock.onmessage?.({ data: 'x.size;' })
    expect(errors).toHaveLength(1)
    expect(tunnel.state).toBe(Guacamole.Tunnel.State.CLOSED)

    const sock2 = new FakeSocket()
    const t2 = socketTunnel(async () => sock2 as unknown as WebSocket)
    const errs2: string[] = []
    t2.onerror = (st) => errs2.push(st.message ?? '')
    t2.connect()
    await flush()
    sock2.open()
    sock2.onclose?.({ code: 1006, reason: '' })
    expect(errs2).toEqual(['connection lost'])
  })

  it('reports a refused token as an error, not a hang', async () => {
    const tunnel = socketTunnel(async () => {
      throw new Error('connection token expired')
    })
    const errors: string[] = []
    tunnel.onerror = (st) => errors.push(st.message ?? '')
    tunnel.connect()
    await flush()
    expect(errors).toEqual(['connection token expired'])
  })
})

describe('desktop api', () => {
  it('asks for a desktop token with the protocol and opens the socket with it as a subprotocol', async () => {
    const { client, seen } = testClient(() => ({
      status: 201,
      json: {
        token: 'pct_d',
        expires_at: '',
        path: '/ws/desktop',
        asset_name: 'win01',
        account: 'admin',
        protocol: 'rdp',
      },
    }))
    const api = desktopApi(client)
    const tok = await api.connectToken(3, 'admin', 'rdp')
    expect(seen.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/v1/terminal/tokens', { asset_id: 3, protocol: 'rdp', account: 'admin' }],
    ])
    const opened: { url: string; protocols: string[] }[] = []
    const Orig = globalThis.WebSocket
    globalThis.WebSocket = class {
      constructor(url: string, protocols: string[]) {
        opened.push({ url, protocols })
      }
    } as unknown as typeof WebSocket
    try {
      await api.open(tok, { width: 1280.4, height: 720, dpi: 96 }, 'en')
    } finally {
      globalThis.WebSocket = Orig
    }
    expect(opened).toHaveLength(1)
    expect(opened[0].url).toContain('/ws/desktop?')
    expect(opened[0].url).toContain('width=1280')
    expect(opened[0].url).not.toContain('pct_d')
    expect(opened[0].protocols).toEqual(['portcullis.v1', 'portcullis.connect.pct_d'])
  })
})
