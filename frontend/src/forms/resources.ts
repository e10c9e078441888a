// Form models of the administration resources and their conversion to the API's
// write bodies. Secrets are write-only: empty means "unchanged" when editing.
import type {
  Account,
  AccountInput,
  Asset,
  AssetInput,
  CommandFilter,
  CommandFilterInput,
  CommandGroup,
  CommandGroupInput,
  Gateway,
  GatewayInput,
  Group,
  GroupInput,
  ID,
  LoginAcl,
  LoginAclInput,
  Org,
  OrgInput,
  Permission,
  PermissionInput,
  Protocol,
  SecretType,
  User,
  UserInput,
  Zone,
  ZoneInput,
} from '@/api'
import { isoToMs, msToIso } from '@/format/time'
import { idsOf } from './ids'

/** withSecret adds a write-only secret field only when it was typed (or on create). */
function withSecret<T extends object>(body: T, key: string, value: string, editing: boolean): T {
  if (value !== '' || !editing) return { ...body, [key]: value }
  return body
}

// ---- organizations

export type OrgForm = OrgInput

export function orgForm(o?: Org): OrgForm {
  return { name: o?.name ?? '', description: o?.description ?? '' }
}

export function orgInput(f: OrgForm): OrgInput {
  return { name: f.name.trim(), description: f.description }
}

// ---- users

export interface UserForm extends Omit<UserInput, 'password'> {
  password: string
  comment: string
}

export function userForm(u?: User): UserForm {
  return {
    username: u?.username ?? '',
    name: u?.name ?? '',
    email: u?.email ?? '',
    role: u?.role ?? 'user',
    org_role: u?.org_role ?? 'org_user',
    is_active: u?.is_active ?? true,
    password: '',
    mfa_required: u?.mfa_required ?? false,
    must_change_password: u?.must_change_password ?? true,
    comment: u?.comment ?? '',
  }
}

export function userInput(f: UserForm, editing: boolean): UserInput {
  const { password, ...rest } = f
  return withSecret<UserInput>({ ...rest, username: rest.username.trim() }, 'password', password, editing)
}

// ---- groups

export type GroupForm = GroupInput

export function groupForm(g?: Group): GroupForm {
  return { name: g?.name ?? '', comment: g?.comment ?? '', user_ids: idsOf(g?.user_ids, g?.users) }
}

export function groupInput(f: GroupForm): GroupInput {
  return { ...f, name: f.name.trim() }
}

// ---- assets

export type AssetForm = AssetInput

export function assetForm(a?: Asset, defaultNodeId: ID | null = null): AssetForm {
  return {
    name: a?.name ?? '',
    address: a?.address ?? '',
    platform_id: a?.platform_id ?? null,
    protocols: (a?.protocols ?? []).map((p) => ({ ...p })),
    zone_id: a?.zone_id ?? null,
    node_ids: a ? idsOf(a.node_ids, a.nodes) : defaultNodeId !== null ? [defaultNodeId] : [],
    labels: [...(a?.labels ?? [])],
    is_active: a?.is_active ?? true,
    comment: a?.comment ?? '',
  }
}

export function assetInput(f: AssetForm): AssetInput {
  return {
    ...f,
    name: f.name.trim(),
    address: f.address.trim(),
    protocols: f.protocols.filter((p) => p.name).map((p) => ({ name: p.name, port: Number(p.port) })),
  }
}

/** platformProtocols parses a platform's default protocols ("ssh/22"). */
export function platformProtocols(defaults: string[] | null | undefined): Protocol[] {
  const out: Protocol[] = []
  for (const d of defaults ?? []) {
    const [name, port] = d.split('/')
    if (!name) continue
    out.push({ name, port: Number(port) || defaultPort(name) })
  }
  return out
}

const knownPorts: Record<string, number> = {
  ssh: 22,
  sftp: 22,
  telnet: 23,
  rdp: 3389,
  vnc: 5900,
  mysql: 3306,
  mariadb: 3306,
  postgresql: 5432,
  redis: 6379,
}

/** KNOWN_PROTOCOLS are the protocol names offered in forms. */
export const KNOWN_PROTOCOLS = Object.keys(knownPorts)

/** defaultPort is a protocol's usual port. */
export function defaultPort(protocol: string): number {
  return knownPorts[protocol] ?? 0
}

// ---- accounts

export interface AccountForm extends Omit<AccountInput, 'secret'> {
  secret: string
  comment: string
}

export function accountForm(a?: Account, assetId: ID | null = null): AccountForm {
  return {
    asset_id: a?.asset_id ?? assetId,
    name: a?.name ?? '',
    username: a?.username ?? '',
    secret_type: a?.secret_type ?? 'password',
    secret: '',
    privileged: a?.privileged ?? false,
    is_active: a?.is_active ?? true,
    comment: a?.comment ?? '',
  }
}

export function accountInput(f: AccountForm, editing: boolean): AccountInput {
  const { secret, ...rest } = f
  return withSecret<AccountInput>(
    { ...rest, username: rest.username.trim(), name: rest.name.trim() || rest.username.trim() },
    'secret',
    secret,
    editing,
  )
}

// ---- zones and gateways

export type ZoneForm = ZoneInput

export function zoneForm(z?: Zone): ZoneForm {
  return { name: z?.name ?? '', comment: z?.comment ?? '' }
}

export function zoneInput(f: ZoneForm): ZoneInput {
  return { ...f, name: f.name.trim() }
}

export interface GatewayForm extends Omit<GatewayInput, 'secret'> {
  secret: string
}

export function gatewayForm(g?: Gateway, zoneId: ID | null = null): GatewayForm {
  return {
    zone_id: g?.zone_id ?? zoneId,
    name: g?.name ?? '',
    address: g?.address ?? '',
    port: g?.port ?? 22,
    username: g?.username ?? '',
    secret_type: (g?.secret_type ?? 'password') as SecretType,
    secret: '',
    priority: g?.priority ?? 50,
    is_active: g?.is_active ?? true,
  }
}

export function gatewayInput(f: GatewayForm, editing: boolean): GatewayInput {
  const { secret, ...rest } = f
  return withSecret<GatewayInput>({ ...rest, name: rest.name.trim() }, 'secret', secret, editing)
}

// ---- permissions

/** ACTIONS are the actions a permission can grant. */
export const ACTIONS = ['connect', 'upload', 'download', 'copy', 'paste', 'share', 'forward', 'agent', 'x11'] as const

/** DEFAULT_ACTIONS are pre-checked on a new permission: forwarding is opt-in. */
export const DEFAULT_ACTIONS = ['connect', 'upload', 'download', 'copy', 'paste', 'share'] as const

/** SPECIAL_ACCOUNTS are the account selectors of permissions. */
export const SPECIAL_ACCOUNTS = ['@ALL', '@INPUT', '@USER'] as const

export interface PermissionForm extends Omit<PermissionInput, 'date_start' | 'date_expired'> {
  date_start: number | null
  date_expired: number | null
  comment: string
}

export function permissionForm(p?: Permission): PermissionForm {
  return {
    name: p?.name ?? '',
    user_ids: idsOf(p?.user_ids, p?.users),
    group_ids: idsOf(p?.group_ids, p?.groups),
    asset_ids: idsOf(p?.asset_ids, p?.assets),
    node_ids: idsOf(p?.node_ids, p?.nodes),
    accounts: [...(p?.accounts ?? ['@ALL'])],
    protocols: [...(p?.protocols ?? ['all'])],
    actions: [...(p?.actions ?? [...DEFAULT_ACTIONS])],
    date_start: isoToMs(p?.date_start),
    date_expired: isoToMs(p?.date_expired),
    time_window: p?.time_window ?? '',
    is_active: p?.is_active ?? true,
    comment: p?.comment ?? '',
  }
}

export function permissionInput(f: PermissionForm): PermissionInput {
  return {
    ...f,
    name: f.name.trim(),
    time_window: f.time_window.trim(),
    date_start: msToIso(f.date_start),
    date_expired: msToIso(f.date_expired),
  }
}

// ---- command groups and filters

export interface CommandGroupForm extends CommandGroupInput {
  comment: string
}

export function commandGroupForm(g?: CommandGroup): CommandGroupForm {
  return {
    name: g?.name ?? '',
    kind: g?.kind ?? 'command',
    content: g?.content ?? '',
    ignore_case: g?.ignore_case ?? true,
    comment: g?.comment ?? '',
  }
}

export function commandGroupInput(f: CommandGroupForm): CommandGroupInput {
  return { ...f, name: f.name.trim() }
}

export interface CommandFilterForm extends CommandFilterInput {
  comment: string
}

export function commandFilterForm(c?: CommandFilter): CommandFilterForm {
  return {
    name: c?.name ?? '',
    priority: c?.priority ?? 50,
    action: c?.action ?? 'deny',
    group_ids: idsOf(c?.group_ids, c?.groups),
    user_ids: idsOf(c?.user_ids, c?.users),
    user_group_ids: idsOf(c?.user_group_ids, c?.user_groups),
    asset_ids: idsOf(c?.asset_ids, c?.assets),
    accounts: [...(c?.accounts ?? [])],
    is_active: c?.is_active ?? true,
    comment: c?.comment ?? '',
  }
}

export function commandFilterInput(f: CommandFilterForm): CommandFilterInput {
  return { ...f, name: f.name.trim() }
}

// ---- login ACLs

export interface LoginAclForm extends LoginAclInput {
  comment: string
}

export function loginAclForm(a?: LoginAcl): LoginAclForm {
  return {
    name: a?.name ?? '',
    priority: a?.priority ?? 50,
    user_id: a?.user_id ?? null,
    ip_ranges: [...(a?.ip_ranges ?? [])],
    time_window: a?.time_window ?? '',
    action: a?.action ?? 'deny',
    is_active: a?.is_active ?? true,
    comment: a?.comment ?? '',
  }
}

export function loginAclInput(f: LoginAclForm): LoginAclInput {
  return { ...f, name: f.name.trim(), time_window: f.time_window.trim() }
}
