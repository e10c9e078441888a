package sftpproxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/store"
)

const (
	// maxSCPDepth bounds the nesting of directories in either direction
	// (a path that deep exceeds PATH_MAX anyway; a symbolic link loop
	// stops here).
	maxSCPDepth = 256
	// maxGlobMatches bounds the expansion of one pattern.
	maxGlobMatches = 10000
	// scpBuffer is the size of the reads and writes of file data.
	scpBuffer = 256 << 10
)

// SCPChannel is what ServeSCP needs of the user's session channel;
// an ssh.Channel is one.
type SCPChannel interface {
	io.ReadWriteCloser
	// CloseWrite sends EOF.
	CloseWrite() error
	// SendRequest sends the exit-status.
	SendRequest(name string, wantReply bool, payload []byte) (bool, error)
}

var _ SCPChannel = ssh.Channel(nil)

// ServeSCP serves the legacy scp protocol (`scp -O`) on ch for command, the
// user's exec command line (see IsSCPCommand): "scp -t PATH" receives files
// (an upload to the target), "scp -f PATH..." sends them (a download); -r,
// -p and -d are honoured. Files are read and written on the target through
// an SFTP session opened on target; the target's scp never runs.
//
// Per-file failures and refusals are reported to the user's scp as its own
// remote scp would, and the protocol goes on. When the protocol ends,
// ServeSCP sends the exit-status (0, or 1 when anything failed) and EOF on
// ch, and returns nil, ErrTransfer (something failed or was refused),
// an error wrapping ErrBadCommand or ErrProtocol, or a channel or target
// failure. It does not close ch unless ctx is done; the caller closes it.
func ServeSCP(ctx context.Context, ch SCPChannel, command string, target *ssh.Client, o Options) error {
	p, err := newProxy(ctx, o)
	if err != nil {
		return err
	}
	s := &scpSession{p: p, ch: ch, r: bufio.NewReaderSize(ch, 64<<10), command: command}
	cmd, err := parseSCPCommand(command)
	if err != nil {
		p.deny("scp", command, "", err.Error())
		_ = s.sendMsg(1, strings.TrimPrefix(err.Error(), "sftpproxy: "))
		s.exit(1)
		return err
	}
	s.cmd = cmd
	if err := p.connect(target); err != nil {
		_ = s.sendMsg(1, "gateway: cannot reach the files of the target")
		s.exit(1)
		return err
	}
	defer p.close()
	stop := context.AfterFunc(ctx, func() { _ = ch.Close() })
	defer stop()

	if cmd.Sink {
		err = s.sink()
	} else {
		err = s.source()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sftpproxy: scp: %w", context.Cause(ctx))
	}
	if err == nil && s.errs > 0 {
		err = ErrTransfer
	}
	var code uint32
	if err != nil {
		code = 1
		p.log.Info("scp ended with errors", "command", command, "failures", s.errs, "err", err)
	}
	s.exit(code)
	return err
}

// scpSession is one run of the scp protocol.
type scpSession struct {
	p       *proxy
	ch      SCPChannel
	r       *bufio.Reader
	command string
	cmd     scpCommand
	errs    int // files and directories that failed or were refused
}

// exit sends the exit-status and EOF.
func (s *scpSession) exit(code uint32) {
	_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
	_ = s.ch.CloseWrite()
}

// sendMsg sends an error record; kind 1 is what OpenSSH's scp sends for
// every error (kind 2 would end the peer).
func (s *scpSession) sendMsg(kind byte, msg string) error {
	_, err := io.WriteString(s.ch, scpRecord{Kind: kind, Msg: msg}.format())
	return err
}

// fail reports a failure about name to the user's scp and counts it.
func (s *scpSession) fail(name string, err error) error {
	s.errs++
	return s.sendMsg(1, name+": "+errText(err))
}

// ok sends the one-byte acknowledgement.
func (s *scpSession) ok() error {
	_, err := s.ch.Write([]byte{0})
	return err
}

// errText renders an error as scp prints errno.
func errText(err error) string {
	switch {
	case errors.Is(err, ErrDenied):
		return "Permission denied"
	case errors.Is(err, os.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "Permission denied"
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return se.FxCode().Error()
	}
	return strings.TrimPrefix(err.Error(), "sftpproxy: ")
}

// peerError is an error record received from the user's scp.
type peerError struct {
	fatal bool
	msg   string
}

func (e *peerError) Error() string { return "peer: " + e.msg }

// readLine reads one record line, without its '\n'.
func (s *scpSession) readLine() (string, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxRecordLine+1 {
		return "", fmt.Errorf("%w: record too long", ErrProtocol)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return "", fmt.Errorf("%w: truncated record", ErrProtocol)
		}
		return "", err
	}
	return string(line[:len(line)-1]), nil
}

// readResponse reads the peer's answer: nil for the \0 acknowledgement, a
// *peerError for an error record, or a protocol or channel error.
func (s *scpSession) readResponse() error {
	b, err := s.r.ReadByte()
	if err != nil {
		return fmt.Errorf("%w: no response: %w", ErrProtocol, err)
	}
	if b == 0 {
		return nil
	}
	line, err := s.readLine()
	if err != nil {
		return err
	}
	return &peerError{fatal: b != 1, msg: sanitize(line)}
}

// --- sink: the user uploads ---------------------------------------------

// sink receives files into the one target path of the command.
func (s *scpSession) sink() error {
	p := s.p
	if len(s.cmd.Paths) != 1 {
		s.errs++
		return s.sendMsg(1, "ambiguous target")
	}
	w := s.cmd.Paths[0]
	names, err := s.expand(w)
	if err != nil || len(names) != 1 {
		if err == nil {
			err = errors.New("ambiguous target")
		}
		s.errs++
		return s.sendMsg(1, sanitize(w.Text)+": "+errText(err))
	}
	targ := names[0]
	if err := p.check(targ, true); err != nil {
		if errors.Is(err, ErrDenied) {
			p.deny(store.ActionUpload, targ, "", reasonOf(err))
		}
		return s.fail(targ, err)
	}
	targIsDir := false
	if fi, err := p.c.Stat(targ); err == nil && fi.IsDir() {
		targIsDir = true
	}
	if (s.cmd.TargetDir || strings.HasSuffix(w.Text, "/")) && !targIsDir {
		s.errs++
		return s.sendMsg(1, targ+": Not a directory")
	}
	if err := s.ok(); err != nil {
		return err
	}
	return s.sinkLoop(targ, targIsDir, 0)
}

// sinkLoop handles the records for one directory level until E (or the end
// of the stream at the top level).
func (s *scpSession) sinkLoop(targ string, targIsDir bool, depth int) error {
	var times *scpRecord
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && depth == 0 {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: stream ended inside a directory", ErrProtocol)
			}
			return s.protocolError(err)
		}
		rec, err := parseSCPRecord(line)
		if err != nil {
			return s.protocolError(err)
		}
		switch rec.Kind {
		case 1, 2:
			// The user's scp could not read a file of its own.
			s.errs++
			s.p.log.Info("scp peer error", "msg", sanitize(rec.Msg))
			if rec.Kind == 2 {
				return fmt.Errorf("%w: peer: %s", ErrTransfer, sanitize(rec.Msg))
			}
			continue
		case 'E':
			if depth == 0 {
				return s.protocolError(fmt.Errorf("%w: E record outside a directory", ErrProtocol))
			}
			return s.ok()
		case 'T':
			t := rec
			times = &t
			if err := s.ok(); err != nil {
				return err
			}
			continue
		}
		np := targ
		if targIsDir {
			np = path.Join(targ, rec.Name)
		}
		if rec.Kind == 'D' {
			err = s.sinkDir(np, rec, times, depth)
		} else {
			err = s.sinkFile(np, rec, times)
		}
		times = nil
		if err != nil {
			return err
		}
	}
}

// protocolError tells the user's scp about a broken stream and returns the
// error that ends the session.
func (s *scpSession) protocolError(err error) error {
	s.errs++
	msg := err.Error()
	if !errors.Is(err, ErrProtocol) {
		return err // the channel itself failed
	}
	s.p.deny("scp", s.command, "", msg)
	_ = s.sendMsg(1, "protocol error: "+strings.TrimPrefix(msg, ErrProtocol.Error()+": "))
	return err
}

// sinkDir handles a D record: creates (or reuses) the directory np and
// receives its content.
func (s *scpSession) sinkDir(np string, rec scpRecord, times *scpRecord, depth int) error {
	p := s.p
	if !s.cmd.Recursive {
		return s.protocolError(fmt.Errorf("%w: received directory without -r", ErrProtocol))
	}
	if depth+1 > maxSCPDepth {
		return s.protocolError(fmt.Errorf("%w: directories nested too deep", ErrProtocol))
	}
	if !p.o.Policy.Upload {
		p.deny("mkdir", np, "", ReasonNoUpload)
		return s.fail(np, ErrDenied)
	}
	if err := p.check(np, true); err != nil {
		if errors.Is(err, ErrDenied) {
			p.deny("mkdir", np, "", reasonOf(err))
		}
		return s.fail(np, err)
	}
	fi, err := p.c.Stat(np)
	exists := err == nil
	switch {
	case exists && !fi.IsDir():
		s.errs++
		return s.sendMsg(1, np+": Not a directory")
	case !exists:
		if err := p.c.Mkdir(np); err != nil {
			return s.fail(np, err)
		}
	}
	if err := s.ok(); err != nil {
		return err
	}
	if err := s.sinkLoop(np, true, depth+1); err != nil {
		return err
	}
	if times != nil {
		if err := p.c.Chtimes(np, time.Unix(times.Atime, 0), time.Unix(times.Mtime, 0)); err != nil {
			p.log.Debug("set directory times", "path", np, "err", err)
		}
	}
	if s.cmd.Preserve || !exists {
		if err := p.c.Chmod(np, os.FileMode(newMode(rec.Mode, s.cmd.Preserve))); err != nil {
			p.log.Debug("set directory mode", "path", np, "err", err)
		}
	}
	return nil
}

// newMode is the mode given to what the sink creates: as sent with -p, with
// a umask of 022 applied otherwise (the target's umask cannot be known).
func newMode(mode uint32, preserve bool) uint32 {
	if preserve {
		return mode & 0o7777
	}
	return mode & 0o7755
}

// sinkFile handles a C record: writes the file np on the target.
func (s *scpSession) sinkFile(np string, rec scpRecord, times *scpRecord) error {
	p := s.p
	if !p.o.Policy.Upload {
		return s.fail(np, p.refuseTransfer(store.ActionUpload, np, ReasonNoUpload))
	}
	if p.o.MaxFileSize > 0 && rec.Size > p.o.MaxFileSize {
		p.log.Info("scp upload over the size limit", "path", np, "size", rec.Size)
		s.errs++
		_ = p.refuseTransfer(store.ActionUpload, np, ReasonSizeLimit)
		return s.sendMsg(1, np+": File too large")
	}
	if err := p.check(np, true); err != nil {
		if errors.Is(err, ErrDenied) {
			err = p.refuseTransfer(store.ActionUpload, np, reasonOf(err))
		}
		return s.fail(np, err)
	}
	_, statErr := p.c.Stat(np)
	existed := statErr == nil
	f, err := p.c.OpenFile(np, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return s.fail(np, err)
	}
	if err := s.ok(); err != nil {
		_ = f.Close()
		return err
	}
	sum := sha256.New()
	lr := &io.LimitedReader{R: io.TeeReader(s.r, sum), N: rec.Size}
	n, werr := f.ReadFrom(lr)
	t := p.transferRecord(store.ActionUpload, np)
	t.Allowed = true
	if lr.N > 0 {
		// The target failed: keep the stream in step by reading the rest.
		if _, err := io.Copy(io.Discard, lr); err != nil || lr.N > 0 {
			_ = f.Close()
			t.Size = n
			p.transfer(t) // what reached the target before the user went away
			return fmt.Errorf("%w: file data cut short: %w", ErrProtocol, errors.Join(err, io.ErrUnexpectedEOF))
		}
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	rerr := s.readResponse()
	var pe *peerError
	if rerr != nil && !errors.As(rerr, &pe) {
		return rerr
	}
	if werr == nil {
		if s.cmd.Preserve || !existed {
			if err := p.c.Chmod(np, os.FileMode(newMode(rec.Mode, s.cmd.Preserve))); err != nil {
				p.log.Debug("set file mode", "path", np, "err", err)
			}
		}
		if times != nil {
			if err := p.c.Chtimes(np, time.Unix(times.Atime, 0), time.Unix(times.Mtime, 0)); err != nil {
				werr = err
			}
		}
	}

	t.Size = n
	if werr == nil {
		t.SHA256 = hex.EncodeToString(sum.Sum(nil))
	} else {
		p.log.Warn("scp upload failed on the target", "path", np, "err", werr)
	}
	if pe != nil {
		// The user's scp could not read its own file and padded it.
		s.errs++
		p.log.Warn("scp source reported an error after the data", "path", np, "msg", pe.msg)
	}
	p.transfer(t)
	if pe != nil && pe.fatal {
		return fmt.Errorf("%w: peer: %s", ErrTransfer, pe.msg)
	}
	if werr != nil {
		return s.fail(np, werr)
	}
	return s.ok()
}

// --- source: the user downloads -----------------------------------------

// source sends every path of the command.
func (s *scpSession) source() error {
	if err := s.readResponse(); err != nil {
		return err
	}
	for _, w := range s.cmd.Paths {
		names, err := s.expand(w)
		if err != nil {
			if err := s.fail(sanitize(w.Text), err); err != nil {
				return err
			}
			continue
		}
		for _, name := range names {
			if err := s.sendPath(name, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendPath sends one file, or with -r one directory tree. Only channel and
// protocol failures are returned; the others are reported to the peer.
func (s *scpSession) sendPath(name string, depth int) error {
	p := s.p
	if !p.o.Policy.Download {
		return s.fail(name, p.refuseTransfer(store.ActionDownload, name, ReasonNoDownload))
	}
	if strings.ContainsAny(path.Base(name), "\n\r") {
		s.errs++
		return s.sendMsg(1, name+": skipping, filename contains a newline")
	}
	if err := p.check(name, true); err != nil {
		if errors.Is(err, ErrDenied) {
			err = p.refuseTransfer(store.ActionDownload, name, reasonOf(err))
		}
		return s.fail(name, err)
	}
	fi, err := p.c.Stat(name)
	if err != nil {
		return s.fail(name, err)
	}
	switch {
	case fi.Mode().IsRegular():
		return s.sendFile(name, fi)
	case fi.IsDir() && s.cmd.Recursive:
		return s.sendDir(name, fi, depth)
	default:
		return s.fail(name, errors.New("not a regular file"))
	}
}

// rawMode returns the permission bits of a target's file info.
func rawMode(fi os.FileInfo) uint32 {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return st.Mode & 0o7777
	}
	return uint32(fi.Mode().Perm())
}

// sendTimes sends the T record of fi with -p; a refusal by the peer is
// returned as a *peerError.
func (s *scpSession) sendTimes(fi os.FileInfo) error {
	if !s.cmd.Preserve {
		return nil
	}
	rec := scpRecord{Kind: 'T', Mtime: fi.ModTime().Unix(), Atime: fi.ModTime().Unix()}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		rec.Atime = int64(st.Atime)
	}
	if _, err := io.WriteString(s.ch, rec.format()); err != nil {
		return err
	}
	return s.readResponse()
}

// sendFile sends one regular file: C record, data, status.
func (s *scpSession) sendFile(name string, fi os.FileInfo) error {
	p := s.p
	size := fi.Size()
	if p.o.MaxFileSize > 0 && size > p.o.MaxFileSize {
		s.errs++
		_ = p.refuseTransfer(store.ActionDownload, name, ReasonSizeLimit)
		return s.sendMsg(1, name+": File too large")
	}
	f, err := p.c.Open(name)
	if err != nil {
		return s.fail(name, err)
	}
	defer f.Close()
	if err := s.sendTimes(fi); err != nil {
		return s.peerSkip(name, err)
	}
	rec := scpRecord{Kind: 'C', Mode: rawMode(fi), Size: size, Name: path.Base(name)}
	if _, err := io.WriteString(s.ch, rec.format()); err != nil {
		return err
	}
	if err := s.readResponse(); err != nil {
		return s.peerSkip(name, err)
	}

	sum := sha256.New()
	sent := &errWriter{w: io.MultiWriter(s.ch, sum)}
	buf := make([]byte, scpBuffer)
	n, rerr := io.CopyBuffer(sent, io.LimitReader(f, size), buf)
	if sent.err != nil {
		return sent.err // the channel failed
	}
	if rerr == nil && n < size {
		rerr = errors.New("file shrank while being sent")
	}
	if n < size {
		// Keep the stream in step, as OpenSSH does: pad with zeros.
		clear(buf)
		for left := size - n; left > 0; {
			k := min(left, int64(len(buf)))
			if _, err := s.ch.Write(buf[:k]); err != nil {
				return err
			}
			left -= k
		}
	}
	if rerr != nil {
		p.log.Warn("scp download read failed on the target", "path", name, "err", rerr)
		if err := s.fail(name, rerr); err != nil {
			return err
		}
	} else if err := s.ok(); err != nil {
		return err
	}
	resp := s.readResponse()
	t := p.transferRecord(store.ActionDownload, name)
	t.Allowed = true
	t.Size = n
	if rerr == nil {
		t.SHA256 = hex.EncodeToString(sum.Sum(nil))
	}
	p.transfer(t)
	if resp != nil {
		return s.peerSkip(name, resp)
	}
	return nil
}

// peerSkip handles the peer's answer refusing name: an error record skips
// it, anything else ends the session.
func (s *scpSession) peerSkip(name string, err error) error {
	var pe *peerError
	if errors.As(err, &pe) && !pe.fatal {
		s.errs++
		s.p.log.Info("scp peer refused", "path", name, "msg", pe.msg)
		return nil
	}
	return err
}

// sendDir sends a directory tree with -r.
func (s *scpSession) sendDir(name string, fi os.FileInfo, depth int) error {
	if depth+1 > maxSCPDepth {
		return s.fail(name, errors.New("directories nested too deep"))
	}
	entries, err := s.p.c.ReadDir(name)
	if err != nil {
		return s.fail(name, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	if err := s.sendTimes(fi); err != nil {
		return s.peerSkip(name, err)
	}
	rec := scpRecord{Kind: 'D', Mode: rawMode(fi), Name: path.Base(name)}
	if _, err := io.WriteString(s.ch, rec.format()); err != nil {
		return err
	}
	if err := s.readResponse(); err != nil {
		return s.peerSkip(name, err)
	}
	for _, e := range entries {
		if e.Name() == "." || e.Name() == ".." {
			continue
		}
		if err := s.sendPath(path.Join(name, e.Name()), depth+1); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(s.ch, "E\n"); err != nil {
		return err
	}
	return s.peerSkip(name, s.readResponse())
}

// errWriter remembers its first write error, so that a failure of the
// channel can be told apart from a failure of the target.
type errWriter struct {
	w   io.Writer
	err error
}

func (c *errWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// --- paths -----------------------------------------------------------------

// expand turns a word of the command line into absolute clean paths: "~"
// is the account's home, relative paths start at the session's start
// directory, and a glob pattern is matched on the target (sorted, dot files
// only matched by a dot; no match leaves the word as it is, like a shell).
func (s *scpSession) expand(w shellWord) ([]string, error) {
	p := s.p
	text, pattern := w.Text, w.Glob
	if w.Tilde {
		text = p.home + text[1:]
		if pattern != "" {
			pattern = escapeGlob(p.home) + pattern[1:]
		}
	}
	if text == "" {
		return nil, os.ErrNotExist
	}
	literal := p.abs(text)
	if pattern == "" {
		return []string{literal}, nil
	}
	if !path.IsAbs(pattern) {
		pattern = escapeGlob(p.start) + "/" + pattern
	}
	matches, err := s.glob(path.Clean(pattern))
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return []string{literal}, nil
	}
	return matches, nil
}

// glob matches an absolute clean pattern on the target, one path component
// at a time; directories outside Root are not listed.
func (s *scpSession) glob(pattern string) ([]string, error) {
	p := s.p
	parts := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	cur := []string{"/"}
	staticAfterMeta := false
	seenMeta := false
	for _, part := range parts {
		if part == "" {
			continue
		}
		if !hasGlobMeta(part) {
			lit := unescapeGlob(part)
			for i := range cur {
				cur[i] = path.Join(cur[i], lit)
			}
			staticAfterMeta = seenMeta
			continue
		}
		seenMeta, staticAfterMeta = true, false
		if _, err := path.Match(part, ""); err != nil {
			return nil, fmt.Errorf("%w: bad pattern %q", ErrBadCommand, part)
		}
		var next []string
		for _, dir := range cur {
			if p.check(dir, true) != nil {
				continue
			}
			fis, err := p.c.ReadDir(dir)
			if err != nil {
				continue
			}
			names := make([]string, 0, len(fis))
			for _, fi := range fis {
				names = append(names, fi.Name())
			}
			sort.Strings(names)
			for _, n := range names {
				if n == "." || n == ".." || (strings.HasPrefix(n, ".") && !strings.HasPrefix(part, ".")) {
					continue
				}
				if ok, _ := path.Match(part, n); ok {
					next = append(next, path.Join(dir, n))
				}
			}
			if len(next) > maxGlobMatches {
				return nil, fmt.Errorf("%w: pattern matches too many files", ErrBadCommand)
			}
		}
		cur = next
		if len(cur) == 0 {
			return nil, nil
		}
	}
	if staticAfterMeta {
		kept := cur[:0]
		for _, m := range cur {
			if _, err := p.c.Lstat(m); err == nil {
				kept = append(kept, m)
			}
		}
		cur = kept
	}
	return cur, nil
}

// hasGlobMeta reports whether a pattern component has an unescaped *, ? or [.
func hasGlobMeta(part string) bool {
	for i := 0; i < len(part); i++ {
		switch part[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// escapeGlob quotes the pattern characters of a literal path.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeGlob removes the quoting of a pattern component without meta
// characters.
func unescapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
