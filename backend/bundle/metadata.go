package bundle

import "time"

// Metadata is what a bundle says about its session, stored as session.json. It is
// plain data: the server fills it from its store when it exports a session.
type Metadata struct {
	SessionID    string     `json:"session_id"`
	OrgID        uint       `json:"org_id"`
	UserID       uint       `json:"user_id"`
	Username     string     `json:"username"`
	SourceIP     string     `json:"source_ip"`
	AssetName    string     `json:"asset_name"`
	AssetAddress string     `json:"asset_address"`
	Account      string     `json:"account"`
	Protocol     string     `json:"protocol"`
	Kind         string     `json:"kind"` // shell, exec, sftp, scp, desktop, database
	Via          string     `json:"via"`  // ssh or web
	Node         string     `json:"node"` // the portcullisd node that hosted the session
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at"`
	EndReason    string     `json:"end_reason"`
	BytesIn      int64      `json:"bytes_in"`
	BytesOut     int64      `json:"bytes_out"`

	// Commands are the command lines run in the session, in order.
	Commands []Command `json:"commands"`
	// FileTransfers are the files uploaded or downloaded in the session.
	FileTransfers []FileTransfer `json:"file_transfers"`

	// Interrupted says the session was cut by a crash of the server. Write sets it
	// when the compressed recording it is given ends short (the server died while
	// writing it).
	Interrupted bool `json:"interrupted"`

	// ExportedBy is who exported the bundle; ExportedAt when. Write uses ExportedAt
	// as the bundle's creation time, and sets it to the current time when zero.
	ExportedBy string    `json:"exported_by"`
	ExportedAt time.Time `json:"exported_at"`
}

// Command is one command line run in a session.
type Command struct {
	Time    time.Time `json:"time"`
	Offset  float64   `json:"offset"` // seconds since the session started
	Input   string    `json:"input"`
	Verdict string    `json:"verdict"` // what the command filter decided: allow, deny, approve...
	Risk    string    `json:"risk"`
	Rule    string    `json:"rule"` // the filter rule that decided, if any
}

// FileTransfer is one file uploaded or downloaded in a session.
type FileTransfer struct {
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"` // upload or download
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"` // hex, empty when the transfer was not hashed
	Success   bool      `json:"success"`
}
