import type { ApiClient } from './client'
import { normalizeList } from './resource'
import type { ID, ListParams, ListResponse } from './types'

/** LiveSession is a session running on the node that answered. */
export interface LiveSession {
  id: string
  org_id: ID
  user_id: ID
  username: string
  asset_id: ID
  asset_name: string
  account_name: string
  protocol: string
  kind: string
  via?: string
  source_ip: string
  width: number
  height: number
  started_at: string
  node: string
  bytes_in: number
  bytes_out: number
  commands: number
  watchers: number
  locked: boolean
  locked_by: string
  killed: boolean
  last_activity: string
}

/** Approval is a command held by a confirm rule. */
export interface Approval {
  id: ID
  session_id: string
  username: string
  asset_name: string
  account: string
  command: string
  filter_name: string
  status: 'pending' | 'approved' | 'denied' | 'expired'
  decided_by: string
  decided_at: string | null
  expires_at: string
  created_at: string
}

/** liveApi watches and controls running sessions and decides held commands. */
export function liveApi(client: ApiClient) {
  return {
    list: async (params: ListParams) =>
      normalizeList(await client.get<ListResponse<LiveSession>>('/live-sessions', { query: params })),
    kill: (id: string, reason: string) => client.post<LiveSession>(`/live-sessions/${id}/kill`, { reason }),
    lock: (id: string) => client.post<LiveSession>(`/live-sessions/${id}/lock`),
    unlock: (id: string) => client.post<LiveSession>(`/live-sessions/${id}/unlock`),
    /** watch opens the read-only stream of a session (asciicast frames). */
    watch: async (id: string): Promise<WebSocket> => {
      const url = await client.socketUrl(`/ws/sessions/${id}/watch`)
      const token = client.credentials.token()
      const org = client.credentials.org()
      const ws = new WebSocket(org ? `${url}${url.includes('?') ? '&' : '?'}org=${org}` : url, [
        'portcullis.v1',
        `portcullis.bearer.${token ?? ''}`,
      ])
      return ws
    },
    approvals: async (params: ListParams) =>
      normalizeList(await client.get<ListResponse<Approval>>('/approvals', { query: params })),
    approve: (id: ID) => client.post<Approval>(`/approvals/${id}/approve`),
    events: () => eventsSocket(client),
    deny: (id: ID) => client.post<Approval>(`/approvals/${id}/deny`),
  }
}

/** LiveEvent is a frame of /ws/events. */
export interface LiveEvent {
  type: 'approval' | 'command'
  approval?: Approval
  command?: {
    session_id: string
    username: string
    asset_name: string
    account: string
    input: string
    risk: string
    verdict: string
    created_at: string
  }
}

/** eventsSocket opens the stream of approvals and flagged commands (admins and auditors). */
export async function eventsSocket(client: ApiClient): Promise<WebSocket> {
  const org = client.credentials.org()
  const url = await client.socketUrl('/ws/events', org ? { org } : undefined)
  return new WebSocket(url, ['portcullis.v1', `portcullis.bearer.${client.credentials.token() ?? ''}`])
}
