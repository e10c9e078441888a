import type { ApiClient } from './client'
import { normalizeList, resource } from './resource'
import type {
  Account,
  Asset,
  CommandFilter,
  CommandGroup,
  Gateway,
  Group,
  ID,
  ImportResult,
  ListResponse,
  LoginAcl,
  Node,
  Org,
  Permission,
  Platform,
  Protocol,
  SecretType,
  SecuritySettings,
  DesktopSettings,
  RecordingsSettings,
  SigningKey,
  StorageStatus,
  SiteSettings,
  SmtpSettings,
  User,
  Zone,
} from './types'

/** OrgInput is what an organization is written with. */
export interface OrgInput {
  name: string
  description: string
}

/** UserInput is what a user is written with. */
export interface UserInput {
  username: string
  name: string
  email: string
  role: string
  org_role: string
  is_active: boolean
  password?: string
  mfa_required: boolean
  must_change_password: boolean
  comment?: string
}

/** GroupInput is what a group is written with. */
export interface GroupInput {
  name: string
  comment: string
  user_ids: ID[]
}

/** NodeInput is what a node is written with. */
export interface NodeInput {
  name: string
  parent_id: ID | null
}

/** AssetInput is what an asset is written with. */
export interface AssetInput {
  name: string
  address: string
  platform_id: ID | null
  protocols: Protocol[]
  zone_id: ID | null
  node_ids: ID[]
  labels: string[]
  is_active: boolean
  comment: string
}

/** AccountInput is what an account is written with. */
export interface AccountInput {
  asset_id: ID | null
  name: string
  username: string
  secret_type: SecretType
  secret?: string
  privileged: boolean
  is_active: boolean
  comment?: string
}

/** ZoneInput is what a zone is written with. */
export interface ZoneInput {
  name: string
  comment: string
}

/** GatewayInput is what a gateway is written with. */
export interface GatewayInput {
  zone_id: ID | null
  name: string
  address: string
  port: number
  username: string
  secret_type: SecretType
  secret?: string
  priority: number
  is_active: boolean
}

/** PermissionInput is what a permission is written with. */
export interface PermissionInput {
  name: string
  user_ids: ID[]
  group_ids: ID[]
  asset_ids: ID[]
  node_ids: ID[]
  accounts: string[]
  protocols: string[]
  actions: string[]
  date_start: string | null
  date_expired: string | null
  time_window: string
  is_active: boolean
  comment?: string
}

/** CommandGroupInput is what a command group is written with. */
export interface CommandGroupInput {
  name: string
  kind: 'command' | 'regex'
  content: string
  ignore_case: boolean
  comment?: string
}

/** CommandFilterInput is what a command filter is written with. */
export interface CommandFilterInput {
  name: string
  priority: number
  action: string
  group_ids: ID[]
  user_ids: ID[]
  user_group_ids: ID[]
  asset_ids: ID[]
  accounts: string[]
  is_active: boolean
  comment?: string
}

/** LoginAclInput is what a login ACL is written with. */
export interface LoginAclInput {
  name: string
  priority: number
  user_id: ID | null
  ip_ranges: string[]
  time_window: string
  action: 'allow' | 'deny'
  is_active: boolean
  comment?: string
}

function csv(client: ApiClient, path: string) {
  return {
    /** exportCsv downloads the collection as CSV. */
    exportCsv: (query?: Record<string, string | number | undefined>) =>
      client.get<Blob>(`${path}/export`, { as: 'blob', query }),
    /** importCsv uploads a CSV file (sent as the text/csv request body). */
    importCsv: (file: Blob) =>
      client.request<ImportResult>('POST', `${path}/import`, { body: file, contentType: 'text/csv' }),
  }
}

function settings<T>(client: ApiClient, path: string) {
  return {
    get: () => client.get<T>(path),
    put: (v: T) => client.put<T>(path, v),
  }
}

/** adminApi holds the administration collections. */
export function adminApi(client: ApiClient) {
  return {
    orgs: resource<Org, OrgInput>(client, '/orgs'),
    users: {
      ...resource<User, UserInput>(client, '/users'),
      unlock: (id: ID) => client.post<void>(`/users/${id}/unlock`),
      resetMfa: (id: ID) => client.post<void>(`/users/${id}/reset-mfa`),
    },
    groups: resource<Group, GroupInput>(client, '/groups'),
    nodes: resource<Node, NodeInput>(client, '/nodes'),
    platforms: {
      list: async () =>
        normalizeList(await client.get<ListResponse<Platform>>('/platforms', { query: { page_size: 500 } })).items,
    },
    assets: { ...resource<Asset, AssetInput>(client, '/assets'), ...csv(client, '/assets') },
    accounts: {
      ...resource<Account, AccountInput>(client, '/accounts'),
      ...csv(client, '/accounts'),
      reveal: (id: ID, password: string, otp?: string) =>
        client.post<{ secret: string }>(`/accounts/${id}/reveal`, { password, ...(otp ? { otp } : {}) }),
    },
    zones: resource<Zone, ZoneInput>(client, '/zones'),
    gateways: resource<Gateway, GatewayInput>(client, '/gateways'),
    permissions: resource<Permission, PermissionInput>(client, '/permissions'),
    commandGroups: resource<CommandGroup, CommandGroupInput>(client, '/command-groups'),
    commandFilters: resource<CommandFilter, CommandFilterInput>(client, '/command-filters'),
    loginAcls: resource<LoginAcl, LoginAclInput>(client, '/login-acls'),
    settings: {
      site: settings<SiteSettings>(client, '/settings/site'),
      smtp: {
        ...settings<SmtpSettings>(client, '/settings/smtp'),
        test: (to: string) => client.post<void>('/settings/smtp/test', { to }),
      },
      security: settings<SecuritySettings>(client, '/settings/security'),
      desktop: settings<DesktopSettings>(client, '/settings/desktop'),
      recordings: settings<RecordingsSettings>(client, '/settings/recordings'),
      signingKey: () => client.get<SigningKey>('/settings/signing-key'),
      storageStatus: () => client.get<StorageStatus>('/storage/status'),
    },
  }
}
