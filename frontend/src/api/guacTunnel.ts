// A Guacamole tunnel over one of the backend's own WebSockets. guacamole-common-js's
// WebSocketTunnel puts everything in the URL and insists on the "guacamole"
// subprotocol; ours authenticates with the connection token (or bearer) as a
// subprotocol, like the terminal, so no secret ends up in a URL or a log.
import Guacamole from 'guacamole-common-js'

/** codePoints is the length of a Guacamole element: Unicode code points, not UTF-16 units. */
export function codePoints(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

/** encodeInstruction writes one instruction in the protocol's wire form. */
export function encodeInstruction(elements: unknown[]): string {
  return (
    elements
      .map((e) => {
        const s = String(e)
        return `${codePoints(s)}.${s}`
      })
      .join(',') + ';'
  )
}

type MutableTunnel = Guacamole.Tunnel & {
  setState(state: Guacamole.Tunnel.State): void
  setUUID(uuid: string): void
}

/**
 * socketTunnel returns a Guacamole.Tunnel that runs over the WebSocket open()
 * gives. Internal instructions (the empty opcode) carry the connection's ID
 * and are not shown to the client; an "error" instruction from the server
 * closes the tunnel with its status.
 */
export function socketTunnel(open: () => Promise<WebSocket>): Guacamole.Tunnel {
  const TunnelCtor = Guacamole.Tunnel as unknown as new () => MutableTunnel
  const tunnel = new TunnelCtor()
  const State = Guacamole.Tunnel.State
  let ws: WebSocket | null = null

  const fail = (code: Guacamole.Status.Code, message: string) => {
    if (tunnel.state === State.CLOSED) return
    tunnel.onerror?.(new Guacamole.Status(code, message))
    tunnel.setState(State.CLOSED)
    ws?.close()
  }

  tunnel.connect = () => {
    tunnel.setState(State.CONNECTING)
    const parser = new Guacamole.Parser()
    parser.oninstruction = (opcode: string, args: unknown[]) => {
      if (opcode === '') {
        if (tunnel.uuid === null && args.length === 1) tunnel.setUUID(String(args[0]))
        return
      }
      tunnel.oninstruction?.(opcode, args)
    }
    open().then(
      (sock) => {
        ws = sock
        sock.onopen = () => tunnel.setState(State.OPEN)
        sock.onmessage = (ev: MessageEvent) => {
          if (typeof ev.data !== 'string') return
          try {
            parser.receive(ev.data)
          } catch (err) {
            fail(Guacamole.Status.Code.SERVER_ERROR, err instanceof Error ? err.message : String(err))
          }
        }
        sock.onclose = (ev: CloseEvent) => {
          if (ws !== sock) return
          if (ev.code === 1000 || ev.code === 1005) tunnel.setState(State.CLOSED)
          else fail(Guacamole.Status.Code.UPSTREAM_NOT_FOUND, ev.reason || 'connection lost')
        }
      },
      (err: unknown) => fail(Guacamole.Status.Code.CLIENT_FORBIDDEN, err instanceof Error ? err.message : String(err)),
    )
  }
  tunnel.disconnect = () => {
    tunnel.setState(State.CLOSED)
    ws?.close(1000)
  }
  tunnel.sendMessage = (...elements: unknown[]) => {
    if (ws?.readyState === 1 /* OPEN */ && elements.length > 0) ws.send(encodeInstruction(elements))
  }
  return tunnel
}
