package store

import (
	"time"
)

// Built-in system roles. A user holds exactly one system role.
const (
	RoleSystemAdmin   = "system_admin"
	RoleSystemAuditor = "system_auditor"
	RoleUser          = "user"
)

// Built-in organization roles. A user holds exactly one role in its organization.
const (
	OrgRoleAdmin   = "org_admin"
	OrgRoleAuditor = "org_auditor"
	OrgRoleUser    = "org_user"
)

// Special account selectors usable in an AssetPermission.
const (
	AccountAll   = "@ALL"   // every account of the asset
	AccountInput = "@INPUT" // the user types username and secret at connect time
	AccountUser  = "@USER"  // the account with the same username as the Portcullis user
)

// Actions a permission can grant.
const (
	ActionConnect  = "connect"
	ActionUpload   = "upload"
	ActionDownload = "download"
	ActionCopy     = "copy"
	ActionPaste    = "paste"
	ActionShare    = "share"
	ActionForward  = "forward" // SSH port forwarding (local and remote)
	ActionAgent    = "agent"   // SSH agent forwarding
	ActionX11      = "x11"     // X11 forwarding
)

// AllActions lists every action in canonical order.
var AllActions = []string{ActionConnect, ActionUpload, ActionDownload, ActionCopy, ActionPaste, ActionShare, ActionForward, ActionAgent, ActionX11}

// Secret types of accounts and gateways.
const (
	SecretPassword = "password"
	SecretSSHKey   = "ssh_key"
)

// Platform categories.
const (
	CategoryLinux    = "linux"
	CategoryUnix     = "unix"
	CategoryWindows  = "windows"
	CategoryNetwork  = "network"
	CategoryDatabase = "database"
)

// Organization is a tenant. Every object below it carries its OrgID.
type Organization struct {
	ID          uint      `gorm:"primaryKey" json:"id"`
	Name        string    `gorm:"size:128;uniqueIndex;not null" json:"name"`
	Description string    `gorm:"size:1024" json:"description"`
	Builtin     bool      `json:"builtin"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// User is a person (or robot) who logs in to Portcullis.
type User struct {
	ID                 uint       `gorm:"primaryKey" json:"id"`
	OrgID              uint       `gorm:"index;not null" json:"org_id"`
	Username           string     `gorm:"size:128;uniqueIndex;not null" json:"username"`
	Name               string     `gorm:"size:128" json:"name"`
	Email              string     `gorm:"size:256" json:"email"`
	Role               string     `gorm:"size:32;not null" json:"role"`
	OrgRole            string     `gorm:"size:32;not null" json:"org_role"`
	IsActive           bool       `gorm:"not null" json:"is_active"`
	PasswordHash       string     `gorm:"size:256" json:"-"`
	MustChangePassword bool       `json:"must_change_password"`
	PasswordChangedAt  *time.Time `json:"password_changed_at"`
	MFARequired        bool       `json:"mfa_required"`
	TOTPEnabled        bool       `json:"totp_enabled"`
	TOTPSecretEnc      []byte     `json:"-"`
	TOTPPendingEnc     []byte     `json:"-"`
	RecoveryCodes      string     `gorm:"type:text" json:"-"` // JSON array of SHA-256 hex digests (the codes are high-entropy)
	FailedLogins       int        `json:"-"`
	LockedUntil        *time.Time `json:"locked_until"`
	LastLoginAt        *time.Time `json:"last_login_at"`
	LastLoginIP        string     `gorm:"size:64" json:"last_login_ip"`
	Comment            string     `gorm:"size:1024" json:"comment"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// UserGroup is a named set of users within an organization.
type UserGroup struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	OrgID     uint      `gorm:"uniqueIndex:idx_group_org_name;not null" json:"org_id"`
	Name      string    `gorm:"size:128;uniqueIndex:idx_group_org_name;not null" json:"name"`
	Comment   string    `gorm:"size:1024" json:"comment"`
	Users     []User    `gorm:"many2many:user_group_members;" json:"users,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UserGroupMember is the join row of UserGroup.Users.
type UserGroupMember struct {
	UserGroupID uint `gorm:"primaryKey"`
	UserID      uint `gorm:"primaryKey;index"`
}

// Node is a folder in an organization's asset tree. Key is the materialized path of
// node IDs from the root ("1", "1:7", "1:7:42") so that a subtree is a key prefix.
type Node struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	OrgID     uint      `gorm:"index;uniqueIndex:idx_node_parent_name;not null" json:"org_id"`
	ParentID  *uint     `gorm:"index;uniqueIndex:idx_node_parent_name" json:"parent_id"`
	Name      string    `gorm:"size:128;uniqueIndex:idx_node_parent_name;not null" json:"name"`
	Key       string    `gorm:"size:512;index" json:"key"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Platform describes a kind of asset and its protocol defaults and settings.
type Platform struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	Name      string    `gorm:"size:64;uniqueIndex;not null" json:"name"`
	Category  string    `gorm:"size:32;not null" json:"category"`
	Protocols JSONList  `gorm:"type:text" json:"protocols"` // default protocols, "ssh/22"
	Settings  JSONMap   `gorm:"type:text" json:"settings"`  // e.g. rdp security, ignore-cert, domain
	Builtin   bool      `json:"builtin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Protocol is one protocol an asset speaks, with its port.
type Protocol struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// Asset is a server, desktop, network device or database reachable through Portcullis.
type Asset struct {
	ID         uint      `gorm:"primaryKey" json:"id"`
	OrgID      uint      `gorm:"uniqueIndex:idx_asset_org_name;not null" json:"org_id"`
	Name       string    `gorm:"size:128;uniqueIndex:idx_asset_org_name;not null" json:"name"`
	Address    string    `gorm:"size:256;not null" json:"address"`
	PlatformID uint      `gorm:"index" json:"platform_id"`
	Platform   *Platform `json:"platform,omitempty"`
	Protocols  Protocols `gorm:"type:text" json:"protocols"`
	ZoneID     *uint     `gorm:"index" json:"zone_id"`
	IsActive   bool      `gorm:"not null" json:"is_active"`
	Labels     JSONList  `gorm:"type:text" json:"labels"` // "key:value"
	Comment    string    `gorm:"size:1024" json:"comment"`
	Nodes      []Node    `gorm:"many2many:asset_nodes;" json:"nodes,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AssetNode is the join row of Asset.Nodes.
type AssetNode struct {
	AssetID uint `gorm:"primaryKey"`
	NodeID  uint `gorm:"primaryKey;index"`
}

// Account is a credential on an asset. The secret is sealed by the vault.
type Account struct {
	ID         uint      `gorm:"primaryKey" json:"id"`
	OrgID      uint      `gorm:"index;not null" json:"org_id"`
	AssetID    uint      `gorm:"uniqueIndex:idx_account_asset_name;not null" json:"asset_id"`
	Name       string    `gorm:"size:128;uniqueIndex:idx_account_asset_name;not null" json:"name"`
	Username   string    `gorm:"size:128;not null" json:"username"`
	SecretType string    `gorm:"size:16;not null" json:"secret_type"`
	SecretEnc  []byte    `json:"-"`
	HasSecret  bool      `json:"has_secret"`
	Privileged bool      `json:"privileged"`
	IsActive   bool      `gorm:"not null" json:"is_active"`
	Comment    string    `gorm:"size:1024" json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Zone is a network domain whose assets are reached through its gateways.
type Zone struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	OrgID     uint      `gorm:"uniqueIndex:idx_zone_org_name;not null" json:"org_id"`
	Name      string    `gorm:"size:128;uniqueIndex:idx_zone_org_name;not null" json:"name"`
	Comment   string    `gorm:"size:1024" json:"comment"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Gateway is an SSH host through which the assets of a zone are reached.
type Gateway struct {
	ID         uint      `gorm:"primaryKey" json:"id"`
	OrgID      uint      `gorm:"uniqueIndex:idx_gateway_org_name;not null" json:"org_id"`
	ZoneID     uint      `gorm:"index;not null" json:"zone_id"`
	Name       string    `gorm:"size:128;uniqueIndex:idx_gateway_org_name;not null" json:"name"`
	Address    string    `gorm:"size:256;not null" json:"address"`
	Port       int       `gorm:"not null" json:"port"`
	Username   string    `gorm:"size:128;not null" json:"username"`
	SecretType string    `gorm:"size:16;not null" json:"secret_type"`
	SecretEnc  []byte    `json:"-"`
	HasSecret  bool      `json:"has_secret"`
	Priority   int       `json:"priority"`
	IsActive   bool      `gorm:"not null" json:"is_active"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AssetPermission grants users and groups access to assets and nodes, as some
// accounts, by some protocols, with some actions, within a validity window.
type AssetPermission struct {
	ID          uint        `gorm:"primaryKey" json:"id"`
	OrgID       uint        `gorm:"uniqueIndex:idx_perm_org_name;not null" json:"org_id"`
	Name        string      `gorm:"size:128;uniqueIndex:idx_perm_org_name;not null" json:"name"`
	Users       []User      `gorm:"many2many:perm_users;" json:"users,omitempty"`
	Groups      []UserGroup `gorm:"many2many:perm_groups;" json:"groups,omitempty"`
	Assets      []Asset     `gorm:"many2many:perm_assets;" json:"assets,omitempty"`
	Nodes       []Node      `gorm:"many2many:perm_nodes;" json:"nodes,omitempty"`
	Accounts    JSONList    `gorm:"type:text" json:"accounts"`  // names, @ALL, @INPUT, @USER
	Protocols   JSONList    `gorm:"type:text" json:"protocols"` // names or "all"
	Actions     JSONList    `gorm:"type:text" json:"actions"`
	DateStart   *time.Time  `json:"date_start"`
	DateExpired *time.Time  `json:"date_expired"`
	TimeWindow  string      `gorm:"size:512" json:"time_window"` // timewindow syntax, empty = always
	IsActive    bool        `gorm:"not null" json:"is_active"`
	Comment     string      `gorm:"size:1024" json:"comment"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// PermUser, PermGroup, PermAsset and PermNode are the join rows of AssetPermission.
type PermUser struct {
	AssetPermissionID uint `gorm:"primaryKey"`
	UserID            uint `gorm:"primaryKey;index"`
}

// PermGroup is a join row of AssetPermission.Groups.
type PermGroup struct {
	AssetPermissionID uint `gorm:"primaryKey"`
	UserGroupID       uint `gorm:"primaryKey;index"`
}

// PermAsset is a join row of AssetPermission.Assets.
type PermAsset struct {
	AssetPermissionID uint `gorm:"primaryKey"`
	AssetID           uint `gorm:"primaryKey;index"`
}

// PermNode is a join row of AssetPermission.Nodes.
type PermNode struct {
	AssetPermissionID uint `gorm:"primaryKey"`
	NodeID            uint `gorm:"primaryKey;index"`
}

// CommandGroup is a named list of commands (literal words or regexes).
type CommandGroup struct {
	ID         uint      `gorm:"primaryKey" json:"id"`
	OrgID      uint      `gorm:"uniqueIndex:idx_cmdgroup_org_name;not null" json:"org_id"`
	Name       string    `gorm:"size:128;uniqueIndex:idx_cmdgroup_org_name;not null" json:"name"`
	Kind       string    `gorm:"size:16;not null" json:"kind"` // "command" or "regex"
	Content    string    `gorm:"type:text" json:"content"`     // one entry per line
	IgnoreCase bool      `json:"ignore_case"`
	Builtin    bool      `json:"builtin"`
	Comment    string    `gorm:"size:1024" json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CommandFilter is an ordered rule binding command groups to an action for a scope.
type CommandFilter struct {
	ID         uint           `gorm:"primaryKey" json:"id"`
	OrgID      uint           `gorm:"uniqueIndex:idx_cmdfilter_org_name;not null" json:"org_id"`
	Name       string         `gorm:"size:128;uniqueIndex:idx_cmdfilter_org_name;not null" json:"name"`
	Priority   int            `gorm:"not null" json:"priority"` // lower runs first
	Action     string         `gorm:"size:16;not null" json:"action"`
	Groups     []CommandGroup `gorm:"many2many:cmdfilter_groups;" json:"groups,omitempty"`
	Users      []User         `gorm:"many2many:cmdfilter_users;" json:"users,omitempty"`
	UserGroups []UserGroup    `gorm:"many2many:cmdfilter_user_groups;" json:"user_groups,omitempty"`
	Assets     []Asset        `gorm:"many2many:cmdfilter_assets;" json:"assets,omitempty"`
	Accounts   JSONList       `gorm:"type:text" json:"accounts"` // account names; empty = all
	IsActive   bool           `gorm:"not null" json:"is_active"`
	Comment    string         `gorm:"size:1024" json:"comment"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

// Command filter actions.
const (
	FilterDeny    = "deny"
	FilterConfirm = "confirm"
	FilterWarn    = "warn"
	FilterAllow   = "allow"
)

// LoginACL allows or denies login by source IP ranges and time windows.
type LoginACL struct {
	ID         uint      `gorm:"primaryKey" json:"id"`
	Name       string    `gorm:"size:128;uniqueIndex;not null" json:"name"`
	Priority   int       `gorm:"not null" json:"priority"` // lower runs first
	UserID     *uint     `gorm:"index" json:"user_id"`     // nil = every user
	IPRanges   JSONList  `gorm:"type:text" json:"ip_ranges"`
	TimeWindow string    `gorm:"size:512" json:"time_window"`
	Action     string    `gorm:"size:16;not null" json:"action"` // allow, deny
	IsActive   bool      `gorm:"not null" json:"is_active"`
	Comment    string    `gorm:"size:1024" json:"comment"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Setting is one JSON-valued system setting.
type Setting struct {
	Key       string    `gorm:"primaryKey;size:64" json:"key"`
	Value     string    `gorm:"type:text" json:"value"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AuthToken is a bearer token: a web login session, an MFA or password-change
// step of a login in progress, or an API token for automation. Only its hash is stored.
type AuthToken struct {
	ID         uint       `gorm:"primaryKey" json:"id"`
	UserID     uint       `gorm:"index;not null" json:"user_id"`
	Kind       string     `gorm:"size:16;not null" json:"kind"`
	Name       string     `gorm:"size:128" json:"name"`
	Prefix     string     `gorm:"size:16" json:"prefix"`
	TokenHash  string     `gorm:"size:64;uniqueIndex;not null" json:"-"`
	ExpiresAt  *time.Time `gorm:"index" json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RemoteAddr string     `gorm:"size:64" json:"remote_addr"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Kinds of AuthToken.
const (
	TokenSession        = "session"
	TokenMFA            = "mfa"
	TokenPasswordChange = "password"
	TokenAPI            = "api"
)

// LoginLog records every login attempt, web, SSH or API.
type LoginLog struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	UserID    *uint     `gorm:"index" json:"user_id"`
	OrgID     *uint     `gorm:"index" json:"org_id"`
	Username  string    `gorm:"size:128;index" json:"username"`
	SourceIP  string    `gorm:"size:64" json:"source_ip"`
	UserAgent string    `gorm:"size:512" json:"user_agent"`
	Channel   string    `gorm:"size:16" json:"channel"` // web, ssh, api
	Method    string    `gorm:"size:16" json:"method"`  // password, otp, key, token
	Success   bool      `gorm:"index" json:"success"`
	Reason    string    `gorm:"size:256" json:"reason"`
	CreatedAt time.Time `gorm:"index" json:"created_at"`
	PrevHash  string    `gorm:"size:64" json:"prev_hash"`
	Hash      string    `gorm:"size:64" json:"hash"`
}

// OperationLog records every change made through the API, and every denial.
type OperationLog struct {
	ID           uint      `gorm:"primaryKey" json:"id"`
	OrgID        *uint     `gorm:"index" json:"org_id"`
	UserID       *uint     `gorm:"index" json:"user_id"`
	Username     string    `gorm:"size:128;index" json:"username"`
	Action       string    `gorm:"size:64;index" json:"action"` // noun.verb: asset.create, permission.deny
	ResourceType string    `gorm:"size:64" json:"resource_type"`
	ResourceID   string    `gorm:"size:64" json:"resource_id"`
	ResourceName string    `gorm:"size:256" json:"resource_name"`
	Before       string    `gorm:"type:text" json:"before"`
	After        string    `gorm:"type:text" json:"after"`
	RemoteAddr   string    `gorm:"size:64" json:"remote_addr"`
	Success      bool      `json:"success"`
	Detail       string    `gorm:"size:1024" json:"detail"`
	CreatedAt    time.Time `gorm:"index" json:"created_at"`
	PrevHash     string    `gorm:"size:64" json:"prev_hash"`
	Hash         string    `gorm:"size:64" json:"hash"`
}

// Session is one access session to an asset (terminal, desktop or database).
type Session struct {
	ID           string     `gorm:"primaryKey;size:36" json:"id"`
	OrgID        uint       `gorm:"index" json:"org_id"`
	UserID       uint       `gorm:"index" json:"user_id"`
	Username     string     `gorm:"size:128" json:"username"`
	AssetID      uint       `gorm:"index" json:"asset_id"`
	AssetName    string     `gorm:"size:128" json:"asset_name"`
	AccountName  string     `gorm:"size:128" json:"account_name"`
	Protocol     string     `gorm:"size:16" json:"protocol"`
	SourceIP     string     `gorm:"size:64" json:"source_ip"`
	StartedAt    time.Time  `gorm:"index" json:"started_at"`
	EndedAt      *time.Time `json:"ended_at"`
	EndReason    string     `gorm:"size:256" json:"end_reason"`
	BytesIn      int64      `json:"bytes_in"`
	BytesOut     int64      `json:"bytes_out"`
	CommandCount int        `json:"command_count"`
	Recording    string     `gorm:"size:512" json:"recording"`
	Node         string     `gorm:"size:128" json:"node"` // the portcullisd node that hosts it
	Kind         string     `gorm:"size:16" json:"kind"`  // shell, exec, sftp, scp
	Via          string     `gorm:"size:8" json:"via"`    // ssh (the user's SSH client) or web (the web terminal)
	// LegalHold exempts the recording from retention.
	LegalHold bool `gorm:"not null;default:false" json:"legal_hold"`
	// UploadedAt is when the recording reached the object store (nil: not there).
	UploadedAt *time.Time `json:"uploaded_at"`
	// RecordingDeletedAt is when retention deleted the recording.
	RecordingDeletedAt *time.Time `json:"recording_deleted_at"`
}

// ConnectToken is a one-time ticket for a web terminal: bound to a user, an
// asset, an account and a protocol, valid for a few minutes, spent by the
// first WebSocket that presents it. Only its SHA-256 is kept.
type ConnectToken struct {
	ID         uint       `gorm:"primaryKey" json:"id"`
	TokenHash  string     `gorm:"size:64;uniqueIndex;not null" json:"-"`
	OrgID      uint       `gorm:"index;not null" json:"org_id"`
	UserID     uint       `gorm:"index;not null" json:"user_id"`
	AssetID    uint       `gorm:"not null" json:"asset_id"`
	Account    string     `gorm:"size:128" json:"account"`
	Protocol   string     `gorm:"size:16;not null" json:"protocol"`
	ExpiresAt  time.Time  `gorm:"index;not null" json:"expires_at"`
	UsedAt     *time.Time `json:"used_at"`
	RemoteAddr string     `gorm:"size:64" json:"remote_addr"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Command is one command line run in a session.
type Command struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	OrgID     uint      `gorm:"index" json:"org_id"`
	SessionID string    `gorm:"size:36;index" json:"session_id"`
	UserID    uint      `gorm:"index" json:"user_id"`
	Username  string    `gorm:"size:128" json:"username"`
	AssetName string    `gorm:"size:128" json:"asset_name"`
	Account   string    `gorm:"size:128" json:"account"`
	Input     string    `gorm:"type:text" json:"input"`
	Risk      string    `gorm:"size:16" json:"risk"`
	Verdict   string    `gorm:"size:16" json:"verdict"`
	Offset    float64   `json:"offset"` // seconds since session start
	CreatedAt time.Time `gorm:"index" json:"created_at"`
}

// FileTransfer is one file uploaded or downloaded in a session.
type FileTransfer struct {
	ID        uint      `gorm:"primaryKey" json:"id"`
	OrgID     uint      `gorm:"index" json:"org_id"`
	SessionID string    `gorm:"size:36;index" json:"session_id"`
	UserID    uint      `gorm:"index" json:"user_id"`
	Username  string    `gorm:"size:128" json:"username"`
	AssetName string    `gorm:"size:128" json:"asset_name"`
	Account   string    `gorm:"size:128" json:"account"`
	Direction string    `gorm:"size:16" json:"direction"` // upload, download
	Path      string    `gorm:"size:1024" json:"path"`
	Size      int64     `json:"size"`
	SHA256    string    `gorm:"size:64" json:"sha256"`
	Allowed   bool      `json:"allowed"`
	CreatedAt time.Time `gorm:"index" json:"created_at"`
}

// UserPublicKey is an SSH public key a user logs in to the SSH gateway with.
type UserPublicKey struct {
	ID          uint       `gorm:"primaryKey" json:"id"`
	UserID      uint       `gorm:"index;not null" json:"user_id"`
	Name        string     `gorm:"size:128" json:"name"`
	Key         string     `gorm:"type:text;not null" json:"key"`                    // authorized_keys line
	Fingerprint string     `gorm:"size:128;uniqueIndex;not null" json:"fingerprint"` // SHA256:...
	LastUsedAt  *time.Time `json:"last_used_at"`
	CreatedAt   time.Time  `json:"created_at"`
}

// HostKey is the SSH host key of an asset or a gateway, trusted on first use.
// A later connection presenting another key is refused and alarmed.
type HostKey struct {
	ID          uint      `gorm:"primaryKey" json:"id"`
	OrgID       uint      `gorm:"index" json:"org_id"`
	OwnerKind   string    `gorm:"size:16;uniqueIndex:idx_hostkey_owner;not null" json:"owner_kind"` // "asset" or "gateway"
	OwnerID     uint      `gorm:"uniqueIndex:idx_hostkey_owner;not null" json:"owner_id"`
	Address     string    `gorm:"size:256;uniqueIndex:idx_hostkey_owner;not null" json:"address"` // host:port
	Algorithm   string    `gorm:"size:64" json:"algorithm"`
	Fingerprint string    `gorm:"size:128" json:"fingerprint"` // SHA256:...
	Key         []byte    `json:"-"`                           // wire format
	FirstSeenAt time.Time `json:"first_seen_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
}

// Approval is a command held by a "confirm" filter until an approver decides.
type Approval struct {
	ID         uint       `gorm:"primaryKey" json:"id"`
	OrgID      uint       `gorm:"index" json:"org_id"`
	SessionID  string     `gorm:"size:36;index" json:"session_id"`
	UserID     uint       `gorm:"index" json:"user_id"`
	Username   string     `gorm:"size:128" json:"username"`
	AssetName  string     `gorm:"size:128" json:"asset_name"`
	Account    string     `gorm:"size:128" json:"account"`
	Command    string     `gorm:"type:text" json:"command"`
	FilterID   uint       `json:"filter_id"`
	FilterName string     `gorm:"size:128" json:"filter_name"`
	Status     string     `gorm:"size:16;index" json:"status"` // pending, approved, denied, expired
	DecidedBy  string     `gorm:"size:128" json:"decided_by"`
	DecidedAt  *time.Time `json:"decided_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	CreatedAt  time.Time  `gorm:"index" json:"created_at"`
}

// Approval states.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalDenied   = "denied"
	ApprovalExpired  = "expired"
)

// AllModels lists every model in migration order.
func AllModels() []any {
	return []any{
		&Organization{}, &User{}, &UserGroup{}, &UserGroupMember{}, &Node{}, &Platform{}, &Asset{}, &AssetNode{},
		&Account{}, &Zone{}, &Gateway{}, &AssetPermission{}, &PermUser{}, &PermGroup{}, &PermAsset{}, &PermNode{},
		&CommandGroup{}, &CommandFilter{}, &LoginACL{}, &Setting{}, &AuthToken{}, &LoginLog{}, &OperationLog{},
		&Session{}, &Command{}, &FileTransfer{}, &UserPublicKey{}, &HostKey{}, &Approval{}, &ConnectToken{},
	}
}
