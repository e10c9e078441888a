package sftpproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	"github.com/portcullis/portcullis/backend/store"
)

// Sentinel errors of the package.
var (
	// ErrDenied is wrapped by errors reporting an operation refused by
	// policy or by Options.Root.
	ErrDenied = errors.New("sftpproxy: permission denied")
	// ErrBadCommand is wrapped by errors about an scp command line that
	// cannot be served (unknown flag, shell syntax, no path).
	ErrBadCommand = errors.New("sftpproxy: unsupported scp command")
	// ErrProtocol is wrapped by errors about a malformed scp record or an
	// unexpected answer from the user's scp.
	ErrProtocol = errors.New("sftpproxy: scp protocol error")
	// ErrTransfer is returned by ServeSCP when the protocol ran to its end
	// but at least one file or directory failed or was refused (the scp
	// exit status is then 1).
	ErrTransfer = errors.New("sftpproxy: some transfers failed")
	// ErrOptions is wrapped by errors about invalid Options.
	ErrOptions = errors.New("sftpproxy: invalid options")
)

// Policy says which directions a session may transfer files in. The gateway
// fills it from the actions of the permission that granted the session
// (store.ActionUpload, store.ActionDownload).
type Policy struct {
	// Upload allows writing files and every other change of the target's
	// filesystem (mkdir, rmdir, remove, rename, link, symlink, setstat).
	Upload bool
	// Download allows reading files.
	Download bool
}

// Sink receives the records of a session. Its methods are called from
// several goroutines and may be called after the session's context has been
// canceled (they get a context without cancellation, so that a killed session
// is still accounted for); they should not block for long. An error is logged
// and does not stop the transfer, which has already happened.
type Sink interface {
	// Transfer records one file uploaded or downloaded, or refused
	// (Allowed=false). The identity fields come from Options.Template,
	// Direction, Path, Size, SHA256, Allowed and CreatedAt are filled in.
	Transfer(ctx context.Context, t store.FileTransfer) error
	// Denied records an operation refused by policy or by Options.Root,
	// transfers included, with the reason. It is where the gateway writes
	// its audit event.
	Denied(ctx context.Context, d Denial) error
}

// Denial is an operation that was refused. The identity fields are copied
// from Options.Template.
type Denial struct {
	OrgID     uint
	SessionID string
	UserID    uint
	Username  string
	AssetName string
	Account   string

	// Op is what was attempted: "download", "upload", "mkdir", "rmdir",
	// "remove", "rename", "link", "symlink", "setstat", "list", "stat",
	// "lstat", "readlink", "realpath", "statvfs" or "scp" (a command line or
	// record that could not be served).
	Op string
	// Path is the remote path (absolute, cleaned) or, for Op "scp", the
	// command line.
	Path string
	// Target is the second path of rename, link and symlink.
	Target string
	// Reason says why, for humans: "no upload permission",
	// "no download permission", "outside root", "file size limit", ...
	Reason string
	Time   time.Time
}

// Reasons put in Denial.Reason.
const (
	ReasonNoUpload    = "no upload permission"
	ReasonNoDownload  = "no download permission"
	ReasonOutsideRoot = "outside root"
	ReasonSizeLimit   = "file size limit"
)

// Options configures ServeSFTP and ServeSCP.
type Options struct {
	// Policy is what the session may do.
	Policy Policy
	// Sink receives the FileTransfer and Denial records. Required.
	Sink Sink
	// Template carries the identity fields copied into every record:
	// OrgID, SessionID, UserID, Username, AssetName, Account. Its other
	// fields are ignored.
	Template store.FileTransfer
	// Root, when not empty, confines the session to this absolute
	// directory of the target (see the package documentation). The
	// session starts in Root unless the account's home lies inside it.
	Root string
	// MaxFileSize refuses files larger than this many bytes (0: no
	// limit): downloads of larger files at open, uploads as soon as a
	// write goes past the limit (scp: at the C record).
	MaxFileSize int64
	// Log receives operational messages; nil discards them. A "component"
	// attribute is added.
	Log *slog.Logger
	// Clock stamps the records; nil means time.Now.
	Clock func() time.Time
}

// checkAndSetDefaults validates o and fills its defaults.
func (o *Options) checkAndSetDefaults() error {
	if o.Sink == nil {
		return fmt.Errorf("%w: Sink is required", ErrOptions)
	}
	if o.MaxFileSize < 0 {
		return fmt.Errorf("%w: negative MaxFileSize", ErrOptions)
	}
	if o.Root != "" {
		if !path.IsAbs(o.Root) {
			return fmt.Errorf("%w: Root %q is not absolute", ErrOptions, o.Root)
		}
		o.Root = path.Clean(o.Root)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Log = o.Log.With("component", "sftpproxy")
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}
