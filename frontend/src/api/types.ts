// Types of the REST API objects (docs/api.md). Optional fields are ones the
// contract leaves open; the UI copes with their absence.

/** ID is an object identifier. */
export type ID = number

/** ListParams are the common list parameters plus resource-specific filters. */
export interface ListParams {
  page?: number
  page_size?: number
  search?: string
  sort?: string
  [filter: string]: string | number | boolean | null | undefined
}

/** ListResponse is the answer of every list endpoint. */
export interface ListResponse<T> {
  items: T[]
  total: number
  page: number
  page_size: number
}

/** OrgRef names an organization. */
export interface OrgRef {
  id: ID
  name: string
}

/** SystemRole is a user's system role. */
export type SystemRole = 'system_admin' | 'system_auditor' | 'user'
/** OrgRole is a user's role in its organization. */
export type OrgRole = 'org_admin' | 'org_auditor' | 'org_user'

/** Me is the current user. */
export interface Me {
  id: ID
  username: string
  name: string
  email: string
  role: SystemRole
  org_role: OrgRole
  org_id: ID
  org_name: string
  totp_enabled: boolean
  mfa_required: boolean
  must_change_password: boolean
  is_admin: boolean
  is_auditor: boolean
  orgs: OrgRef[]
}

/** LoginStatus tells what a login needs next. */
export type LoginStatus = 'ok' | 'otp_required' | 'password_change_required' | 'mfa_enroll_required'

/** LoginResponse answers every login step. */
export interface LoginResponse {
  status: LoginStatus
  token: string
  expires_at?: string
  user?: Me
  /** recovery_codes comes once, with the answer to /auth/mfa/confirm. */
  recovery_codes?: string[]
}

/** MfaSetup is the pending TOTP secret. */
export interface MfaSetup {
  secret: string
  otpauth_uri: string
}

/** ApiToken is an API token of the current user (its value is never listed). */
export interface ApiToken {
  id: ID
  name: string
  prefix?: string
  expires_at?: string | null
  last_used_at?: string | null
  created_at?: string
}

/** ApiTokenCreated answers a token creation, the only time the value is shown. */
export interface ApiTokenCreated extends ApiToken {
  token: string
}

/** Protocol is a protocol an asset speaks, with its port. */
export interface Protocol {
  name: string
  port: number
}

/** AssetAccountAccess is an account the user may use on an asset. */
export interface AssetAccountAccess {
  id?: ID
  name: string
  username: string
  kind: 'account' | '@INPUT' | '@USER'
}

/** AssetAccess is an asset the caller may reach and how. */
export interface AssetAccess {
  asset: {
    id: ID
    name: string
    address: string
    platform: string
    category: string
    protocols: Protocol[]
    zone_id: ID | null
    labels: string[] | null
    comment: string
  }
  accounts: AssetAccountAccess[]
  protocols: string[]
  actions: string[]
}

/** Org is an organization (tenant). */
export interface Org {
  id: ID
  name: string
  description: string
  builtin?: boolean
  created_at?: string
}

/** User is a Portcullis user. */
export interface User {
  id: ID
  org_id?: ID
  username: string
  name: string
  email: string
  role: SystemRole
  org_role: OrgRole
  is_active: boolean
  mfa_required: boolean
  must_change_password: boolean
  totp_enabled?: boolean
  locked_until?: string | null
  last_login_at?: string | null
  last_login_ip?: string
  comment?: string
  created_at?: string
}

/** Named is any object with an id and a name (embedded relations). */
export interface Named {
  id: ID
  name: string
  username?: string
}

/** Group is a user group. */
export interface Group {
  id: ID
  name: string
  comment: string
  user_ids?: ID[]
  users?: Named[]
  created_at?: string
}

/** Node is a folder of the asset tree. */
export interface Node {
  id: ID
  name: string
  parent_id: ID | null
  key?: string
  asset_count?: number
}

/** Platform is a kind of asset. */
export interface Platform {
  id: ID
  name: string
  category: string
  /** protocols are defaults such as "ssh/22". */
  protocols: string[]
  settings?: Record<string, string>
}

/** Asset is a reachable machine, device or database. */
export interface Asset {
  id: ID
  name: string
  address: string
  platform_id: ID
  platform?: Platform
  protocols: Protocol[]
  zone_id: ID | null
  node_ids?: ID[]
  nodes?: Named[]
  labels: string[] | null
  is_active: boolean
  comment: string
  created_at?: string
}

/** SecretType is the kind of a stored secret. */
export type SecretType = 'password' | 'ssh_key'

/** Account is a credential on an asset. */
export interface Account {
  id: ID
  asset_id: ID
  asset_name?: string
  asset?: Named
  name: string
  username: string
  secret_type: SecretType
  has_secret?: boolean
  privileged: boolean
  is_active: boolean
  comment?: string
}

/** Zone is a network domain. */
export interface Zone {
  id: ID
  name: string
  comment: string
}

/** Gateway is an SSH host in front of a zone. */
export interface Gateway {
  id: ID
  zone_id: ID
  name: string
  address: string
  port: number
  username: string
  secret_type: SecretType
  has_secret?: boolean
  priority: number
  is_active: boolean
}

/** Permission is an asset permission. */
export interface Permission {
  id: ID
  name: string
  user_ids?: ID[]
  group_ids?: ID[]
  asset_ids?: ID[]
  node_ids?: ID[]
  users?: Named[]
  groups?: Named[]
  assets?: Named[]
  nodes?: Named[]
  accounts: string[]
  protocols: string[]
  actions: string[]
  date_start: string | null
  date_expired: string | null
  time_window: string
  is_active: boolean
  comment?: string
}

/** CommandGroup is a named list of commands or regexes. */
export interface CommandGroup {
  id: ID
  name: string
  kind: 'command' | 'regex'
  content: string
  ignore_case: boolean
  builtin?: boolean
  comment?: string
}

/** FilterAction is what a command filter does. */
export type FilterAction = 'deny' | 'confirm' | 'warn' | 'allow'

/** CommandFilter binds command groups to an action for a scope. */
export interface CommandFilter {
  id: ID
  name: string
  priority: number
  action: FilterAction
  group_ids?: ID[]
  user_ids?: ID[]
  user_group_ids?: ID[]
  asset_ids?: ID[]
  groups?: Named[]
  users?: Named[]
  user_groups?: Named[]
  assets?: Named[]
  accounts: string[]
  is_active: boolean
  comment?: string
}

/** LoginAcl allows or denies logins by source and time. */
export interface LoginAcl {
  id: ID
  name: string
  priority: number
  user_id: ID | null
  ip_ranges: string[]
  time_window: string
  action: 'allow' | 'deny'
  is_active: boolean
  comment?: string
}

/** SiteSettings says how the site presents itself. */
export interface SiteSettings {
  url: string
  name: string
}

/** SmtpSecurity is how mail is protected in transit. */
export type SmtpSecurity = 'ssl' | 'starttls' | 'none'

/** SmtpSettings holds outgoing mail settings; the password is write-only. */
export interface SmtpSettings {
  host: string
  port: number
  username: string
  password?: string
  has_password?: boolean
  from: string
  security: SmtpSecurity
}

/** SecuritySettings is the security policy. */
/** DesktopSettings configure RDP and VNC: guacd's address (empty: the server's default) and key recording. */
export interface DesktopSettings {
  guacd_addr: string
  record_keys: boolean
}

export interface SecuritySettings {
  password_min_length: number
  password_require_upper: boolean
  password_require_lower: boolean
  password_require_digit: boolean
  password_require_symbol: boolean
  mfa_global: boolean
  mfa_roles: string[]
  lockout_threshold: number
  lockout_minutes: number
  ip_throttle_per_minute: number
  session_ttl_minutes: number
  session_idle_minutes: number
  session_max_hours: number
  connect_token_ttl_seconds: number
}

/** ImportResult answers a CSV import. */
export interface ImportResult {
  created: number
  updated: number
  errors: { row: number; field?: string; message: string }[]
}

/** LoginLog is one login attempt. */
export interface LoginLog {
  id: ID
  username: string
  source_ip: string
  user_agent: string
  channel: string
  method: string
  success: boolean
  reason: string
  created_at: string
}

/** OperationLog is one change or denial. */
export interface OperationLog {
  id: ID
  username: string
  action: string
  resource_type: string
  resource_id: string
  resource_name: string
  before: string
  after: string
  remote_addr: string
  success: boolean
  detail: string
  created_at: string
}

/** AuditVerify answers the audit chain check. */
export interface AuditVerify {
  ok: boolean
  login_rows: number
  operation_rows: number
  [extra: string]: unknown
}

/** Session is one access session. */
export interface Session {
  id: string
  username: string
  asset_name: string
  account_name: string
  protocol: string
  source_ip: string
  started_at: string
  ended_at: string | null
  end_reason: string
  bytes_in: number
  bytes_out: number
  command_count: number
  recording?: string
  kind?: string
  via?: string
  legal_hold?: boolean
  uploaded_at?: string | null
  recording_deleted_at?: string | null
}

/** Command is one command line run in a session. */
export interface Command {
  id: ID
  session_id: string
  username: string
  asset_name: string
  account: string
  input: string
  risk: string
  verdict: string
  created_at: string
}

/** FileTransfer is one file moved in a session. */
export interface FileTransfer {
  id: ID
  session_id: string
  username: string
  asset_name: string
  account: string
  direction: 'upload' | 'download'
  path: string
  size: number
  sha256: string
  allowed: boolean
  created_at: string
}

// The seek index of a recording (backend/record Index).

/** CastHeader is the asciicast v2 header line. */
export interface CastHeader {
  width: number
  height: number
  timestamp?: number
  title?: string
}

/** Segment is a piece of the stored recording a player fetches on its own. */
export interface Segment {
  time: number
  offset: number
  length: number
  cols: number
  rows: number
  /**
   * keyframe is ANSI text that redraws the screen at the segment's start (empty for
   * the first). The server and the desktop leave it out of the index and answer it
   * per segment (SegmentSource.keyframe).
   */
  keyframe?: string
}

/** Marker is a labelled moment: the commands the relay logged. */
export interface Marker {
  time: number
  label: string
}

/** RecordingIndex is the seek index of a recording. */
export interface RecordingIndex {
  version: number
  kind: 'cast' | 'guac'
  header?: CastHeader
  duration: number
  size: number
  gzip: boolean
  segments: Segment[]
  markers: Marker[]
}

/** RecordingsSettings say where recordings are kept and for how long. */
export interface RecordingsSettings {
  retention_days: number
  s3: {
    enabled: boolean
    endpoint: string
    bucket: string
    prefix: string
    region: string
    access_key: string
    /** secret is write-only: sent only when typed. */
    secret?: string
    has_secret: boolean
    use_tls: boolean
    insecure_skip_verify: boolean
  }
}

/** StorageStatus is the object store's upload backlog. */
export interface StorageStatus {
  enabled: boolean
  error?: string
  backlog?: {
    Pending: number
    PendingBytes: number
    Failing: boolean
    LastError: string
    LastSuccess: string
    NextAttempt: string
    Uploaded: number
  } | null
}

/** SigningKey is the server's key that signs exported bundles. */
export interface SigningKey {
  algorithm: string
  public_key: string
  fingerprint: string
}
