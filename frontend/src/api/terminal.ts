import type { ApiClient } from './client'
import type { ID } from './types'

/** ConnectToken is a one-time ticket for a web terminal (valid 2 minutes). */
export interface ConnectToken {
  token: string
  expires_at: string
  path: string
  asset_name: string
  account: string
  protocol: string
}

/** TerminalEvent tells what became of a command (denied, awaiting_approval, ...). */
export interface TerminalEvent {
  kind: 'denied' | 'awaiting_approval' | 'approved' | 'rejected' | 'expired' | 'warned' | string
  command: string
  rule: string
  message: string
}

/** TerminalControl is a text frame of the terminal WebSocket. */
export interface TerminalControl {
  type: 'event' | 'error' | 'exit' | string
  code?: number
  message?: string
  event?: TerminalEvent
}

/** TERMINAL_PROTOCOL is the WebSocket subprotocol the server answers with. */
export const TERMINAL_PROTOCOL = 'portcullis.v1'

/** terminalApi opens web terminals to the assets the user may reach. */
export function terminalApi(client: ApiClient) {
  return {
    connectToken: (assetId: ID, account?: string, protocol?: string) =>
      client.post<ConnectToken>('/terminal/tokens', {
        asset_id: assetId,
        ...(account ? { account } : {}),
        ...(protocol ? { protocol } : {}),
      }),
    /** open spends a token: the WebSocket of the session, sized cols x rows. */
    open: async (tok: ConnectToken, cols: number, rows: number, lang: string): Promise<WebSocket> => {
      const url = await client.socketUrl(tok.path, { cols, rows, lang })
      const ws = new WebSocket(url, [TERMINAL_PROTOCOL, `portcullis.connect.${tok.token}`])
      ws.binaryType = 'arraybuffer'
      return ws
    },
  }
}
