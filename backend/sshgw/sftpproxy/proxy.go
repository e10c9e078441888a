package sftpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// proxy is what ServeSFTP and ServeSCP share for one channel: the SFTP client
// on the target, the options, and where paths start. Its fields are set
// before it is used by several goroutines and not changed afterwards.
type proxy struct {
	c   *sftp.Client
	o   Options
	log *slog.Logger
	// auditCtx is the session's context without its cancellation: records
	// of a killed session are still written.
	auditCtx context.Context
	// home is the account's working directory on the target ("~").
	home string
	// start is where relative paths start: home, or Root when home lies
	// outside Root.
	start string
	// rootReal is Root as the target resolves it (symbolic links followed).
	rootReal string
}

// newProxy validates o and makes a proxy that is not connected yet: it can
// already record denials.
func newProxy(ctx context.Context, o Options) (*proxy, error) {
	if err := o.checkAndSetDefaults(); err != nil {
		return nil, err
	}
	return &proxy{o: o, log: o.Log, auditCtx: context.WithoutCancel(ctx)}, nil
}

// connect opens an SFTP session on target.
func (p *proxy) connect(target *ssh.Client) error {
	if target == nil {
		return fmt.Errorf("%w: nil target client", ErrOptions)
	}
	c, err := sftp.NewClient(target, sftp.UseConcurrentWrites(true))
	if err != nil {
		return fmt.Errorf("sftpproxy: open sftp session on target: %w", err)
	}
	if err := p.setClient(c); err != nil {
		_ = c.Close()
		return err
	}
	return nil
}

// setClient makes p use c, and learns the home directory and Root's real
// location from it.
func (p *proxy) setClient(c *sftp.Client) error {
	home, err := c.Getwd()
	if err != nil {
		return fmt.Errorf("sftpproxy: target working directory: %w", err)
	}
	p.c = c
	p.home = path.Clean(home)
	p.start = p.home
	root := p.o.Root
	if root == "" {
		return nil
	}
	rr, err := c.RealPath(root)
	if err != nil {
		return fmt.Errorf("sftpproxy: resolve root %s: %w", root, err)
	}
	fi, err := c.Stat(rr)
	if err != nil {
		return fmt.Errorf("sftpproxy: stat root %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: root %s is not a directory", ErrOptions, root)
	}
	p.rootReal = path.Clean(rr)
	if !within(root, p.home) {
		p.start = root
	}
	return nil
}

// close ends the SFTP session on the target.
func (p *proxy) close() {
	if p.c == nil {
		return
	}
	if err := p.c.Close(); err != nil {
		p.log.Debug("close target sftp session", "err", err)
	}
}

// abs makes name absolute (relative to p.start) and clean.
func (p *proxy) abs(name string) string {
	return cleanPathWithBase(p.start, name)
}

// cleanPathWithBase is what the request server does to every path: clean it,
// and join it to base when relative.
func cleanPathWithBase(base, name string) string {
	name = path.Clean(name)
	if !path.IsAbs(name) {
		return path.Join(base, name)
	}
	return name
}

// within reports whether the clean absolute path name is root or lies
// inside it.
func within(root, name string) bool {
	if root == "/" {
		return strings.HasPrefix(name, "/")
	}
	return name == root || strings.HasPrefix(name, root+"/")
}

// errOutsideRoot is returned by check for a path that leaves Options.Root.
var errOutsideRoot = fmt.Errorf("%w: %s", ErrDenied, ReasonOutsideRoot)

// check verifies that the clean absolute path name may be used under
// Options.Root. followLast says whether the operation follows a symbolic link
// in the last component (open, stat, setstat, opendir) or acts on the link
// itself (lstat, remove, rename, mkdir, ...). It returns nil, an error
// wrapping ErrDenied, or the target's error (a dangling symbolic link that
// would be followed, a missing parent directory: the operation would fail
// anyway).
func (p *proxy) check(name string, followLast bool) error {
	root := p.o.Root
	if root == "" {
		return nil
	}
	if !path.IsAbs(name) || path.Clean(name) != name || !within(root, name) {
		return errOutsideRoot
	}
	resolve := name
	if !followLast && name != root {
		resolve = path.Dir(name)
	}
	rp, err := p.c.RealPath(resolve)
	if err != nil {
		return err
	}
	if !within(p.rootReal, path.Clean(rp)) {
		return errOutsideRoot
	}
	return nil
}

// transferRecord starts a FileTransfer with the template's identity
// fields; Allowed is false until the caller sets it.
func (p *proxy) transferRecord(direction, name string) store.FileTransfer {
	t := p.o.Template
	return store.FileTransfer{
		OrgID:     t.OrgID,
		SessionID: t.SessionID,
		UserID:    t.UserID,
		Username:  t.Username,
		AssetName: t.AssetName,
		Account:   t.Account,
		Direction: direction,
		Path:      name,
		CreatedAt: p.o.Clock(),
	}
}

// transfer hands a FileTransfer to the sink.
func (p *proxy) transfer(t store.FileTransfer) {
	p.log.Info("file transfer", "direction", t.Direction, "path", t.Path, "size", t.Size,
		"sha256", t.SHA256, "allowed", t.Allowed, "session", t.SessionID)
	if err := p.o.Sink.Transfer(p.auditCtx, t); err != nil {
		p.log.Error("record file transfer", "path", t.Path, "err", err)
	}
}

// deny hands a Denial to the sink.
func (p *proxy) deny(op, name, target, reason string) {
	t := p.o.Template
	d := Denial{
		OrgID: t.OrgID, SessionID: t.SessionID, UserID: t.UserID, Username: t.Username,
		AssetName: t.AssetName, Account: t.Account,
		Op: op, Path: name, Target: target, Reason: reason, Time: p.o.Clock(),
	}
	p.log.Warn("operation refused", "op", op, "path", name, "target", target, "reason", reason,
		"session", t.SessionID)
	if err := p.o.Sink.Denied(p.auditCtx, d); err != nil {
		p.log.Error("record denial", "op", op, "path", name, "err", err)
	}
}

// refuseTransfer records a refused transfer (a Denial and a FileTransfer with
// Allowed=false) and returns the error to answer with.
func (p *proxy) refuseTransfer(direction, name, reason string) error {
	p.deny(direction, name, "", reason)
	p.transfer(p.transferRecord(direction, name)) // Allowed false, Size 0
	return permissionDenied(reason)
}

// reasonOf returns the Denial reason carried by an error from check.
func reasonOf(err error) string {
	if errors.Is(err, errOutsideRoot) {
		return ReasonOutsideRoot
	}
	return err.Error()
}

// statusError is an error answered to the SFTP client with a given status
// code. The request server finds the code through Unwrap (one of the
// sftp.ErrSSHFx* values) and sends Error() as the message.
type statusError struct {
	code error
	msg  string
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.code }

// Is makes a permission-denied statusError match ErrDenied.
func (e *statusError) Is(target error) bool {
	return target == ErrDenied && e.code == sftp.ErrSSHFxPermissionDenied
}

// permissionDenied is the SSH_FX_PERMISSION_DENIED answer to a refusal.
func permissionDenied(reason string) error {
	return &statusError{code: sftp.ErrSSHFxPermissionDenied, msg: "permission denied: " + reason}
}

// toStatus turns an error of the target's SFTP client into one the request
// server answers with the same status code.
func toStatus(err error) error {
	var se *sftp.StatusError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, ErrDenied):
		return err
	case errors.Is(err, os.ErrNotExist):
		return os.ErrNotExist
	case errors.Is(err, os.ErrPermission):
		return &statusError{code: sftp.ErrSSHFxPermissionDenied, msg: "permission denied"}
	case errors.As(err, &se):
		return &statusError{code: se.FxCode(), msg: se.Error()}
	default:
		return &statusError{code: sftp.ErrSSHFxFailure, msg: err.Error()}
	}
}

// errIsDir is answered to SSH_FXP_REMOVE of a directory.
var errIsDir = &os.PathError{Op: "remove", Err: syscall.EISDIR}
