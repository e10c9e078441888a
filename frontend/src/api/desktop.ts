import type { ApiClient } from './client'
import { TERMINAL_PROTOCOL, type ConnectToken } from './terminal'
import type { ID } from './types'

/** DESKTOP_PROTOCOLS are the asset protocols shown in a desktop tab (through guacd). */
export const DESKTOP_PROTOCOLS = ['rdp', 'vnc']

/** GuacdStatus says whether the server reaches its guacd. */
export interface GuacdStatus {
  address: string
  reachable: boolean
  error?: string
}

/** DesktopSize is the client window a desktop session is sized to. */
export interface DesktopSize {
  width: number
  height: number
  dpi: number
}

/** desktopApi opens RDP and VNC sessions through the server's guacd. */
export function desktopApi(client: ApiClient) {
  return {
    connectToken: (assetId: ID, account: string | undefined, protocol: string) =>
      client.post<ConnectToken>('/terminal/tokens', {
        asset_id: assetId,
        protocol,
        ...(account ? { account } : {}),
      }),
    /** open spends a token: the WebSocket of the session (Guacamole instructions as text). */
    open: async (tok: ConnectToken, size: DesktopSize, lang: string): Promise<WebSocket> => {
      const url = await client.socketUrl(tok.path, {
        width: Math.round(size.width),
        height: Math.round(size.height),
        dpi: Math.round(size.dpi),
        lang,
      })
      return new WebSocket(url, [TERMINAL_PROTOCOL, `portcullis.connect.${tok.token}`])
    },
    /** guacdStatus says whether the server reaches guacd (RDP and VNC need it). */
    guacdStatus: (fresh = false) =>
      client.get<GuacdStatus>('/guacd/status', fresh ? { query: { fresh: '1' } } : undefined),
  }
}
