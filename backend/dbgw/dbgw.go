package dbgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/backend/ptyfile"
)

// Errors of Start.
var (
	// ErrUnsupported is returned for a protocol without a client here.
	ErrUnsupported = errors.New("dbgw: unsupported protocol")
	// ErrClientMissing is returned when the protocol's client is not
	// installed on the bastion.
	ErrClientMissing = errors.New("dbgw: database client not installed")
	// ErrUnreachable is returned when Spec.Dial fails: the database cannot
	// be reached. The dial error is wrapped too.
	ErrUnreachable = errors.New("dbgw: cannot reach the database")
	// ErrInvalidSpec is returned for a Spec that cannot be run safely (no
	// Dial, control characters in a name, a line break in the password...).
	ErrInvalidSpec = errors.New("dbgw: invalid session spec")
)

const (
	defaultTerm  = "xterm-256color"
	defaultRunAs = "nobody"
	// maxSocketPath is the longest path a unix socket may have (sun_path).
	maxSocketPath = 107
	// exitWait bounds how long Close waits for the killed client to go.
	exitWait = 5 * time.Second
)

// Spec is one database session to start.
type Spec struct {
	Protocol string // "mysql", "mariadb", "postgresql" or "redis"
	Username string // may be "" for redis (default user)
	Password string // never written to argv, a log, or a world-readable file
	Database string // optional default database (mysql/mariadb/postgresql) or db number (redis)
	Term     string // TERM for the CLI, default "xterm-256color"
	// Cols and Rows are the terminal size; invalid sizes become 80x24.
	Cols, Rows int
	// Dial opens one connection to the database server (through Portcullis'
	// zones and gateways). The CLI never connects to the network itself: it
	// connects to a unix socket in the session's private directory, and each
	// connection accepted there is relayed to a connection from Dial.
	Dial func(ctx context.Context) (net.Conn, error)
}

// Options are the server-wide settings.
type Options struct {
	RuntimeDir string            // parent of the per-session private directories; default os.TempDir()
	RunAs      string            // user the CLI runs as when the process is root; default "nobody"; "-" keeps root (tests only)
	Log        *slog.Logger      // nil: discard
	Paths      map[string]string // optional override of CLI binary paths by protocol (tests)
}

// Supported reports whether Start runs sessions of the protocol: "mysql",
// "mariadb", "postgresql" or "redis".
func Supported(protocol string) bool { return kindOf(protocol) != kindNone }

// Session is a database client running in a pseudo-terminal on the bastion,
// logged in with credentials the user never sees. It satisfies
// github.com/portcullis/portcullis/backend/term.Target.
type Session struct {
	name   string // the client, for messages
	cmd    *exec.Cmd
	master *os.File
	dir    string
	relay  *relay
	log    *slog.Logger

	exited   chan struct{} // closed when the client has exited
	exitCode int           // set before exited is closed
	waitErr  error         // set before exited is closed

	closeOnce sync.Once
	closeErr  error
}

// Start starts the protocol's client for spec in a pseudo-terminal.
//
// It dials the database first (the connection is kept for the client's first
// one), so that an unreachable database fails here with ErrUnreachable rather
// than in a client that prints its own error. ctx bounds that dial; the
// connections the client opens later are dialed with ctx's values until
// Close. Start returns ErrUnsupported for an unknown protocol and
// ErrClientMissing (wrapped) when the client is not installed.
func Start(ctx context.Context, spec Spec, opts Options) (*Session, error) {
	protocol := strings.ToLower(spec.Protocol)
	if !Supported(protocol) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, spec.Protocol)
	}
	if err := spec.check(protocol); err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "dbgw", "protocol", protocol)
	path, err := clientPath(protocol, opts.Paths)
	if err != nil {
		return nil, err
	}
	cred, err := runAs(opts.RunAs)
	if err != nil {
		return nil, err
	}
	runtimeDir := opts.RuntimeDir
	if runtimeDir == "" {
		runtimeDir = os.TempDir()
	}

	up, err := spec.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	ok := false
	defer func() {
		if !ok {
			up.Close()
		}
	}()

	dir, err := os.MkdirTemp(runtimeDir, "dbgw-")
	if err != nil {
		return nil, fmt.Errorf("dbgw: private directory: %w", err)
	}
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	l := clientLaunch(protocol, &spec, dir)
	if len(l.socket) > maxSocketPath {
		return nil, fmt.Errorf("dbgw: private directory %s: path too long for a unix socket", dir)
	}

	ln, readOnce, err := prepareDir(dir, l, cred)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			ln.Close()
		}
	}()

	term := spec.Term
	if term == "" {
		term = defaultTerm
	}
	cols, rows := normalSize(spec.Cols, spec.Rows)
	master, tty, err := ptyfile.Open(cols, rows)
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	defer func() {
		if !ok {
			master.Close()
		}
	}()
	cmd, err := startClient(path, l, clientEnv(term, dir, l.env), dir, cred, tty, log)
	if err != nil {
		return nil, err
	}
	ok = true

	s := &Session{
		name: filepath.Base(path), cmd: cmd, master: master, dir: dir, log: log,
		exited: make(chan struct{}),
	}
	go s.wait()
	// A client that reads its credentials once read them before it connected:
	// remove them then, so that they stay on disk for the shortest time.
	removeFiles := func() {
		for _, p := range readOnce {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				log.Warn("cannot remove a credentials file", "err", err)
			}
		}
	}
	s.relay = newRelay(ctx, ln, up, spec.Dial, log, removeFiles)
	log.Info("database client started", "client", path, "pid", cmd.Process.Pid, "user", spec.Username, "isolated", cmd.SysProcAttr.Cloneflags != 0)
	return s, nil
}

// prepareDir creates the client's socket and credential files in its private
// directory, all while the directory is root's alone, and hands them to the
// client's user last, so that no other process of that user can slip a file
// or a link in first. It returns the listener and the files the client reads
// once.
func prepareDir(dir string, l launch, cred *syscall.Credential) (*net.UnixListener, []string, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: l.socket, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("dbgw: listen: %w", err)
	}
	fail := func(err error) (*net.UnixListener, []string, error) {
		ln.Close()
		return nil, nil, err
	}
	if err := os.Chmod(l.socket, 0o600); err != nil {
		return fail(fmt.Errorf("dbgw: socket: %w", err))
	}
	var readOnce []string
	for _, f := range l.files {
		p := filepath.Join(dir, f.name)
		if err := writeSecret(p, f.content, cred); err != nil {
			return fail(err)
		}
		if f.once {
			readOnce = append(readOnce, p)
		}
	}
	if cred != nil {
		for _, p := range []string{l.socket, dir} {
			if err := os.Lchown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(fmt.Errorf("dbgw: hand the private directory to the client's user: %w", err))
			}
		}
	}
	return ln, readOnce, nil
}

// startClient starts the client on tty: in a session of its own with tty as
// its controlling terminal, as cred's user when given, and, when this process
// is root, in a network namespace of its own with no interface up, so that
// the client reaches its socket (a file) and nothing else, whatever it is
// told to connect to. Where namespaces are not allowed (a container), it runs
// without one, and says so in the log.
func startClient(path string, l launch, env []string, dir string, cred *syscall.Credential, tty *os.File, log *slog.Logger) (*exec.Cmd, error) {
	newCmd := func(isolate bool) *exec.Cmd {
		cmd := &exec.Cmd{
			Path:   path,
			Args:   append([]string{filepath.Base(path)}, l.args...),
			Env:    env,
			Dir:    dir,
			Stdin:  tty,
			Stdout: tty,
			Stderr: tty,
			SysProcAttr: &syscall.SysProcAttr{
				Setsid: true, Setctty: true, Ctty: 0,
				Credential: cred,
			},
		}
		if isolate {
			cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
		}
		return cmd
	}
	isolate := os.Geteuid() == 0
	cmd := newCmd(isolate)
	err := cmd.Start()
	if err != nil && isolate && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC)) {
		log.Warn("cannot give the client a network namespace of its own; running it without", "err", err)
		cmd = newCmd(false)
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("dbgw: start %s: %w", path, err)
	}
	return cmd, nil
}

// check validates a Spec: what goes into the client's option files and
// environment must not be able to add lines or options there.
func (s *Spec) check(protocol string) error {
	switch {
	case s.Dial == nil:
		return fmt.Errorf("%w: no Dial", ErrInvalidSpec)
	case hasControl(s.Username):
		return fmt.Errorf("%w: control characters in the username", ErrInvalidSpec)
	case hasControl(s.Database):
		return fmt.Errorf("%w: control characters in the database name", ErrInvalidSpec)
	case strings.ContainsAny(s.Password, "\x00\r\n"):
		return fmt.Errorf("%w: a line break or NUL in the password", ErrInvalidSpec)
	case hasControl(s.Term) || strings.ContainsAny(s.Term, " =") || len(s.Term) > 64:
		return fmt.Errorf("%w: TERM %q", ErrInvalidSpec, s.Term)
	case kindOf(protocol) == kindRedis && s.Database != "" && !isDigits(s.Database):
		return fmt.Errorf("%w: a redis database is a number, not %q", ErrInvalidSpec, s.Database)
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// runAs returns the credential the client runs with: that of the RunAs user
// (default nobody) when this process is root, none otherwise.
func runAs(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 || name == "-" {
		return nil, nil
	}
	if name == "" {
		name = defaultRunAs
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("dbgw: run the client as %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("dbgw: run the client as %q: %w", name, err)
	}
	// No supplementary groups: setgroups([]).
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// writeSecret writes a file only its owner, the client's user, may read.
func writeSecret(path, content string, cred *syscall.Credential) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("dbgw: credentials file: %w", err)
	}
	if cred != nil {
		if err := f.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			f.Close()
			return fmt.Errorf("dbgw: credentials file: %w", err)
		}
	}
	if _, err := io.WriteString(f, content); err != nil {
		f.Close()
		return fmt.Errorf("dbgw: credentials file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dbgw: credentials file: %w", err)
	}
	return nil
}

// wait waits for the client to exit and records how.
func (s *Session) wait() {
	err := s.cmd.Wait()
	s.exitCode = -1
	if s.cmd.ProcessState != nil {
		s.exitCode = s.cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			s.waitErr = fmt.Errorf("dbgw: %s killed by signal: %v", s.name, ws.Signal())
		}
	default:
		s.waitErr = fmt.Errorf("dbgw: wait for %s: %w", s.name, err)
	}
	close(s.exited)
}

// Read reads the client's output. It returns io.EOF once the client has
// exited and its output is read, or after Close.
func (s *Session) Read(p []byte) (int, error) { return ptyfile.Read(s.master, p) }

// Write sends keystrokes to the client.
func (s *Session) Write(p []byte) (int, error) { return s.master.Write(p) }

// Resize sets the terminal size; the client receives SIGWINCH. Invalid sizes
// are refused and huge ones clamped.
func (s *Session) Resize(cols, rows int) error {
	if cols <= 0 || rows <= 0 {
		return fmt.Errorf("dbgw: invalid terminal size %dx%d", cols, rows)
	}
	cols, rows = normalSize(cols, rows)
	if err := ptyfile.SetSize(s.master, cols, rows); err != nil {
		return fmt.Errorf("dbgw: resize: %w", err)
	}
	return nil
}

// Close kills the client's process group, stops the socket relay and its
// connections to the database, and removes the private directory. It is safe
// to call more than once and unblocks a pending Read.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.exited:
		default:
			// The client runs in a session of its own: its pid is its
			// process group.
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			timer := time.NewTimer(exitWait)
			select {
			case <-s.exited:
			case <-timer.C:
				s.log.Warn("the database client did not exit after SIGKILL", "pid", s.cmd.Process.Pid)
			}
			timer.Stop()
		}
		var errs []error
		if err := s.master.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("dbgw: close pty: %w", err))
		}
		if err := s.relay.stop(); err != nil {
			errs = append(errs, fmt.Errorf("dbgw: stop relay: %w", err))
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("dbgw: remove private directory: %w", err))
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("database client closed", "pid", s.cmd.Process.Pid)
	})
	return s.closeErr
}

// Wait waits for the client to exit. It returns the exit code (-1 when a
// signal ended the client) and an error when a signal ended it or waiting
// failed; a client that exited by itself gives a nil error, whatever its
// code. It may be called from several goroutines.
func (s *Session) Wait() (exitCode int, err error) {
	<-s.exited
	return s.exitCode, s.waitErr
}

// PID returns the client's process id (also its process group and session).
func (s *Session) PID() int { return s.cmd.Process.Pid }
