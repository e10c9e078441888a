import type { ApiClient } from './client'
import { normalizeList } from './resource'
import type { ApiToken, ApiTokenCreated, AssetAccess, ID, ListParams, ListResponse, Node } from './types'

/** meApi holds what the current user may do for itself. */
export function meApi(client: ApiClient) {
  return {
    assets: async (params: ListParams) =>
      normalizeList(await client.get<ListResponse<AssetAccess>>('/me/assets', { query: params })),
    nodes: async () => normalizeList(await client.get<ListResponse<Node>>('/me/nodes')).items,
    disableMfa: (password: string, otp: string) =>
      client.request<void>('DELETE', '/me/mfa', { json: { password, otp } }),
    tokens: async () => normalizeList(await client.get<ListResponse<ApiToken> | ApiToken[]>('/me/tokens')).items,
    createToken: (name: string, expiresInDays?: number | null) =>
      client.post<ApiTokenCreated>('/me/tokens', {
        name,
        ...(expiresInDays ? { expires_in_days: expiresInDays } : {}),
      }),
    revokeToken: (id: ID) => client.delete(`/me/tokens/${id}`),
  }
}
