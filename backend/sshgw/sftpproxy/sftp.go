package sftpproxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

// ServeSFTP serves the SFTP protocol on ch, the user's "sftp" subsystem
// channel (or an exec of an sftp-server, see IsSFTPServerCommand), backed by
// an SFTP session it opens on target. It returns when the user ends the
// session (nil), when ctx is done (ch is then closed to stop the session), or
// on a failure of the channel. It does not close ch otherwise: the caller
// owns it (send an exit-status if wanted, then Close). The target client is
// not closed either.
//
// Options.Sink must be set; see the package documentation for the policy and
// the records.
func ServeSFTP(ctx context.Context, ch io.ReadWriteCloser, target *ssh.Client, o Options) error {
	p, err := newProxy(ctx, o)
	if err != nil {
		return err
	}
	if err := p.connect(target); err != nil {
		return err
	}
	defer p.close()
	return p.serveSFTP(ctx, ch)
}

// serveSFTP runs the request server on ch until the user or ctx ends it.
func (p *proxy) serveSFTP(ctx context.Context, ch io.ReadWriteCloser) error {
	h := &handlers{p: p}
	rs := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h},
		sftp.WithStartDirectory(p.start))
	stop := context.AfterFunc(ctx, func() { _ = rs.Close() })
	defer stop()
	err := rs.Serve()
	if ctx.Err() != nil {
		return fmt.Errorf("sftpproxy: sftp session: %w", context.Cause(ctx))
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("sftpproxy: sftp session: %w", err)
}

// handlers implements the request server's handler interfaces on the
// target's SFTP client, checking each operation first.
type handlers struct{ p *proxy }

var (
	_ sftp.FileReader           = (*handlers)(nil)
	_ sftp.OpenFileWriter       = (*handlers)(nil)
	_ sftp.PosixRenameFileCmder = (*handlers)(nil)
	_ sftp.StatVFSFileCmder     = (*handlers)(nil)
	_ sftp.LstatFileLister      = (*handlers)(nil)
	_ sftp.RealPathFileLister   = (*handlers)(nil)
	_ sftp.ReadlinkFileLister   = (*handlers)(nil)
)

// Fileread opens a file for a download.
func (h *handlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	p := h.p
	name := r.Filepath
	if !p.o.Policy.Download {
		return nil, p.refuseTransfer(store.ActionDownload, name, ReasonNoDownload)
	}
	if err := p.check(name, true); err != nil {
		return nil, h.refusedOrFailed(store.ActionDownload, name, err)
	}
	f, err := p.c.OpenFile(name, os.O_RDONLY)
	if err != nil {
		return nil, toStatus(err)
	}
	if p.o.MaxFileSize > 0 {
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, toStatus(err)
		}
		if fi.Size() > p.o.MaxFileSize {
			_ = f.Close()
			return nil, p.refuseTransfer(store.ActionDownload, name, ReasonSizeLimit)
		}
	}
	return &fileHandle{p: p, f: f, name: name, read: true}, nil
}

// Filewrite opens a file for an upload.
func (h *handlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return h.openWrite(r, false)
}

// OpenFile opens a file for reading and writing: both an upload and a
// download, so it needs both permissions.
func (h *handlers) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	return h.openWrite(r, true)
}

// openWrite opens r.Filepath for writing on the target, and for reading too
// when read is set.
func (h *handlers) openWrite(r *sftp.Request, read bool) (*fileHandle, error) {
	p := h.p
	name := r.Filepath
	if !p.o.Policy.Upload {
		return nil, p.refuseTransfer(store.ActionUpload, name, ReasonNoUpload)
	}
	if read && !p.o.Policy.Download {
		return nil, p.refuseTransfer(store.ActionDownload, name, ReasonNoDownload)
	}
	if err := p.check(name, true); err != nil {
		return nil, h.refusedOrFailed(store.ActionUpload, name, err)
	}
	pf := r.Pflags()
	flags := os.O_WRONLY
	if read {
		flags = os.O_RDWR
	}
	if pf.Creat {
		flags |= os.O_CREATE
	}
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	if pf.Append {
		flags |= os.O_APPEND
	}
	perm, hasPerm := openPermissions(r.Attrs)
	created := false
	if pf.Creat && hasPerm {
		_, err := p.c.Lstat(name)
		created = errors.Is(err, os.ErrNotExist)
	}
	f, err := p.c.OpenFile(name, flags)
	if err != nil {
		return nil, toStatus(err)
	}
	if created {
		// The request server drops the attributes of SSH_FXP_OPEN, so the
		// mode the client asked for is applied here, as a umask of 022
		// would leave it.
		if err := f.Chmod(os.FileMode(perm & 0o7755)); err != nil {
			p.log.Debug("chmod new file", "path", name, "err", err)
		}
	}
	return &fileHandle{p: p, f: f, name: name, read: read, write: true}, nil
}

// openPermissions recovers the permissions of an SSH_FXP_OPEN: the request
// server keeps the attribute bytes but not their flags. OpenSSH's sftp sends
// the permissions alone (4 bytes), or with the times when preserving (12
// bytes); other layouts are not guessed.
func openPermissions(attrs []byte) (uint32, bool) {
	if len(attrs) != 4 && len(attrs) != 12 {
		return 0, false
	}
	return binary.BigEndian.Uint32(attrs) & 0o7777, true
}

// Filecmd runs the operations that change the target's filesystem; each
// needs Policy.Upload.
func (h *handlers) Filecmd(r *sftp.Request) error {
	p := h.p
	op := opName(r.Method)
	if !p.o.Policy.Upload {
		if r.Method == "Symlink" {
			p.deny(op, r.Target, r.Filepath, ReasonNoUpload)
		} else {
			p.deny(op, r.Filepath, r.Target, ReasonNoUpload)
		}
		return permissionDenied(ReasonNoUpload)
	}
	switch r.Method {
	case "Setstat":
		if err := h.checkOp(op, r.Filepath, "", true); err != nil {
			return err
		}
		return toStatus(h.setstat(r))
	case "Rename", "PosixRename":
		return h.PosixRename(r)
	case "Rmdir":
		if err := h.checkOp(op, r.Filepath, "", false); err != nil {
			return err
		}
		return toStatus(p.c.RemoveDirectory(r.Filepath))
	case "Remove":
		if err := h.checkOp(op, r.Filepath, "", false); err != nil {
			return err
		}
		// The client's Remove falls back to rmdir; SSH_FXP_REMOVE must not.
		if fi, err := p.c.Lstat(r.Filepath); err == nil && fi.IsDir() {
			return errIsDir
		}
		return toStatus(p.c.Remove(r.Filepath))
	case "Mkdir":
		if err := h.checkOp(op, r.Filepath, "", false); err != nil {
			return err
		}
		return toStatus(p.c.Mkdir(r.Filepath))
	case "Link":
		if err := h.checkOp(op, r.Filepath, r.Target, false); err != nil {
			return err
		}
		return toStatus(p.c.Link(r.Filepath, r.Target))
	case "Symlink":
		// Filepath is what the link points to, as sent (relative to the
		// link's directory when relative); Target is the link.
		if err := h.checkOp(op, r.Target, "", false); err != nil {
			return err
		}
		if p.o.Root != "" && !within(p.o.Root, cleanPathWithBase(path.Dir(r.Target), r.Filepath)) {
			p.deny(op, r.Target, r.Filepath, ReasonOutsideRoot)
			return permissionDenied(ReasonOutsideRoot)
		}
		return toStatus(p.c.Symlink(r.Filepath, r.Target))
	default:
		return &statusError{code: sftp.ErrSSHFxOpUnsupported, msg: "unsupported operation " + r.Method}
	}
}

// PosixRename renames r.Filepath to r.Target, replacing it (the OpenSSH
// extension; a plain SSH_FXP_RENAME is answered the same way, as OpenSSH's
// sftp-server falls back to it when the link-based rename fails).
func (h *handlers) PosixRename(r *sftp.Request) error {
	p := h.p
	op := opName(r.Method)
	if !p.o.Policy.Upload {
		p.deny(op, r.Filepath, r.Target, ReasonNoUpload)
		return permissionDenied(ReasonNoUpload)
	}
	if err := h.checkOp(op, r.Filepath, r.Target, false); err != nil {
		return err
	}
	if r.Method == "Rename" {
		return toStatus(p.c.Rename(r.Filepath, r.Target))
	}
	return toStatus(p.c.PosixRename(r.Filepath, r.Target))
}

// StatVFS answers statvfs@openssh.com; it reads nothing but numbers and is
// always allowed (inside Root).
func (h *handlers) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	if err := h.checkOp("statvfs", r.Filepath, "", true); err != nil {
		return nil, err
	}
	st, err := h.p.c.StatVFS(r.Filepath)
	return st, toStatus(err)
}

// setstat applies the attributes of a SETSTAT or FSETSTAT.
func (h *handlers) setstat(r *sftp.Request) error {
	c, name := h.p.c, r.Filepath
	fl, a := r.AttrFlags(), r.Attributes()
	if a == nil {
		return &statusError{code: sftp.ErrSSHFxBadMessage, msg: "bad attributes"}
	}
	if fl.Size {
		if err := c.Truncate(name, int64(a.Size)); err != nil {
			return err
		}
	}
	if fl.UidGid {
		if err := c.Chown(name, int(a.UID), int(a.GID)); err != nil {
			return err
		}
	}
	if fl.Permissions {
		if err := c.Chmod(name, os.FileMode(a.Mode&0o7777)); err != nil {
			return err
		}
	}
	if fl.Acmodtime {
		if err := c.Chtimes(name, time.Unix(int64(a.Atime), 0), time.Unix(int64(a.Mtime), 0)); err != nil {
			return err
		}
	}
	return nil
}

// Filelist answers opendir (List) and stat (Stat; Readlink and Lstat have
// their own methods).
func (h *handlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := h.p
	switch r.Method {
	case "List":
		if err := h.checkOp("list", r.Filepath, "", true); err != nil {
			return nil, err
		}
		fis, err := p.c.ReadDir(r.Filepath)
		if err != nil {
			return nil, toStatus(err)
		}
		l := make(listerAt, len(fis))
		for i, fi := range fis {
			l[i] = remoteInfo{fi}
		}
		return l, nil
	case "Stat":
		if err := h.checkOp("stat", r.Filepath, "", true); err != nil {
			return nil, err
		}
		fi, err := p.c.Stat(r.Filepath)
		if err != nil {
			return nil, toStatus(err)
		}
		return listerAt{remoteInfo{fi}}, nil
	default:
		return nil, &statusError{code: sftp.ErrSSHFxOpUnsupported, msg: "unsupported operation " + r.Method}
	}
}

// Lstat answers SSH_FXP_LSTAT.
func (h *handlers) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	if err := h.checkOp("lstat", r.Filepath, "", false); err != nil {
		return nil, err
	}
	fi, err := h.p.c.Lstat(r.Filepath)
	if err != nil {
		return nil, toStatus(err)
	}
	return listerAt{remoteInfo{fi}}, nil
}

// Readlink answers SSH_FXP_READLINK with the link's content as the target
// has it.
func (h *handlers) Readlink(name string) (string, error) {
	if err := h.checkOp("readlink", name, "", false); err != nil {
		return "", err
	}
	s, err := h.p.c.ReadLink(name)
	return s, toStatus(err)
}

// RealPath answers SSH_FXP_REALPATH: relative paths start at the session's
// start directory, and the target resolves symbolic links. Under Root, a path
// inside Root that the target reports under Root's resolved location is
// reported under Root, as the user sees it.
func (h *handlers) RealPath(name string) (string, error) {
	p := h.p
	abs := p.abs(name)
	if err := h.checkOp("realpath", abs, "", true); err != nil {
		return "", err
	}
	rp, err := p.c.RealPath(abs)
	if err != nil {
		return "", toStatus(err)
	}
	rp = path.Clean(rp)
	if p.o.Root != "" && !within(p.o.Root, rp) && within(p.rootReal, rp) {
		rp = path.Join(p.o.Root, rp[len(p.rootReal):])
	}
	return rp, nil
}

// checkOp runs proxy.check on name (and on target when not empty), records a
// Denial when it refuses, and returns the answer for the client.
func (h *handlers) checkOp(op, name, target string, followLast bool) error {
	for _, n := range []string{name, target} {
		if n == "" {
			continue
		}
		if err := h.p.check(n, followLast); err != nil {
			if errors.Is(err, ErrDenied) {
				h.p.deny(op, name, target, reasonOf(err))
				return permissionDenied(reasonOf(err))
			}
			return toStatus(err)
		}
	}
	return nil
}

// refusedOrFailed answers an open whose check failed: a refusal is recorded
// as a refused transfer; a target error is passed on.
func (h *handlers) refusedOrFailed(direction, name string, err error) error {
	if errors.Is(err, ErrDenied) {
		return h.p.refuseTransfer(direction, name, reasonOf(err))
	}
	return toStatus(err)
}

// opName turns a request method into a Denial.Op.
func opName(method string) string {
	switch method {
	case "PosixRename":
		return "rename"
	default:
		b := []byte(method)
		if len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z' {
			b[0] += 'a' - 'A'
		}
		return string(b)
	}
}

// listerAt serves a list of file infos to the request server.
type listerAt []os.FileInfo

// ListAt copies the entries from off on into ls.
func (l listerAt) ListAt(ls []os.FileInfo, off int64) (int, error) {
	if off < 0 || off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[off:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}

// remoteInfo passes the target's owner and group on to the user (the
// request server only looks for them through FileInfoUidGid).
type remoteInfo struct{ os.FileInfo }

var _ sftp.FileInfoUidGid = remoteInfo{}

// Uid returns the owner's id as the target reported it.
func (i remoteInfo) Uid() uint32 {
	if st, ok := i.Sys().(*sftp.FileStat); ok {
		return st.UID
	}
	return 0
}

// Gid returns the group's id as the target reported it.
func (i remoteInfo) Gid() uint32 {
	if st, ok := i.Sys().(*sftp.FileStat); ok {
		return st.GID
	}
	return 0
}
