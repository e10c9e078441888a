package term

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// testPrompt is the bash prompt of the test sessions.
const testPrompt = "alice@web01:~$ "

// waitTimeout bounds every wait of the tests.
const waitTimeout = 10 * time.Second

// userTerm is the user's side of a session: the test types into it (without
// waiting for the relay to read, as a terminal's keyboard), and it collects
// what the relay writes to the user's screen.
type userTerm struct {
	keys     chan []byte
	pending  []byte // rest of a chunk larger than the last Read; only Read uses it
	closeOne sync.Once

	mu  sync.Mutex // guards out
	out bytes.Buffer
}

func newUserTerm() *userTerm { return &userTerm{keys: make(chan []byte, 256)} }

func (u *userTerm) Read(p []byte) (int, error) {
	if len(u.pending) == 0 {
		k, ok := <-u.keys
		if !ok {
			return 0, io.EOF
		}
		u.pending = k
	}
	n := copy(p, u.pending)
	u.pending = u.pending[n:]
	return n, nil
}

func (u *userTerm) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.Write(p)
}

// typeKeys sends keystrokes as one read.
func (u *userTerm) typeKeys(t *testing.T, s string) {
	t.Helper()
	u.keys <- []byte(s)
}

// hangUp closes the user's side: the relay reads EOF.
func (u *userTerm) hangUp() { u.closeOne.Do(func() { close(u.keys) }) }

// mark is a position in the output to search from.
func (u *userTerm) mark() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.Len()
}

func (u *userTerm) since(m int) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()[m:]
}

// waitFor waits until the output after mark m contains s, and returns the
// mark just after it.
func (u *userTerm) waitFor(t *testing.T, m int, s string) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		out := u.since(m)
		if i := strings.Index(out, s); i >= 0 {
			return m + i + len(s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("got output %q, want it to contain %q", out, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testClock is an injected clock that moves only when told.
type testClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testRule is a command filter created for a test.
type testRule struct {
	name, action, content string
	regex                 bool
}

// testEnv is a running session: real bash in a pty as the target, a real
// recording on disk, a real registry and filter engine on SQLite.
type testEnv struct {
	t        *testing.T
	st       *store.Store
	reg      *session.Registry
	live     *session.Live
	user     *userTerm
	target   *PtyTarget
	dir      string // the shell's home and working directory
	castPath string
	resizes  chan Size
	org      uint

	done chan struct{}
	res  Result
	err  error
}

type envOption func(*testEnv, *Config)

func withRules(rules ...testRule) envOption {
	return func(e *testEnv, c *Config) {
		e.t.Helper()
		for i, r := range rules {
			kind := "command"
			if r.regex {
				kind = "regex"
			}
			g := store.CommandGroup{OrgID: e.org, Name: r.name + " group", Kind: kind, Content: r.content}
			if err := e.st.DB.Create(&g).Error; err != nil {
				e.t.Fatalf("create group: %v", err)
			}
			f := store.CommandFilter{OrgID: e.org, Name: r.name, Priority: i + 1, Action: r.action, IsActive: true, Groups: []store.CommandGroup{g}}
			if err := e.st.DB.Create(&f).Error; err != nil {
				e.t.Fatalf("create filter: %v", err)
			}
		}
	}
}

// startEnv starts a session and returns once bash shows its prompt.
func startEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	st := storetest.SQLite(t)
	e := &testEnv{t: t, st: st, user: newUserTerm(), dir: t.TempDir(), resizes: make(chan Size, 4), done: make(chan struct{})}
	var org store.Organization
	if err := st.DB.Where("builtin = ?", true).First(&org).Error; err != nil {
		t.Fatalf("default org: %v", err)
	}
	e.org = org.ID
	e.reg = session.NewRegistry(st.DB, nil, nil, nil, "test", session.WithApprovalPoll(10*time.Millisecond))

	// The shell finds a harmless rm first in its PATH: should a refused
	// "rm -rf /" ever run, it only leaves a canary file behind.
	bin := filepath.Join(e.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	shim := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s/RM-RAN\n", e.dir)
	if err := os.WriteFile(filepath.Join(bin, "rm"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}

	cfg := Config{
		User: e.user, Resizes: e.resizes, Size: Size{Cols: 80, Rows: 24},
		Scope:          cmdfilter.Scope{OrgID: e.org, UserID: 7, AssetID: 3, Account: "root"},
		ConfirmTimeout: 5 * time.Second,
		tick:           10 * time.Millisecond,
	}
	id := session.NewID()
	e.castPath = filepath.Join(e.dir, id+".cast.gz")
	rec, err := record.CreateCast(e.castPath, record.Header{Width: 80, Height: 24, Timestamp: time.Now().Unix()}, record.CastOptions{})
	if err != nil {
		t.Fatalf("create recording: %v", err)
	}
	cfg.Recorder = rec
	e.live, err = e.reg.Start(t.Context(), session.Meta{
		ID: id, OrgID: e.org, UserID: 7, Username: "alice", AssetID: 3, AssetName: "web01", AccountName: "root",
		Protocol: "ssh", Kind: "shell", SourceIP: "192.0.2.10", Width: 80, Height: 24, Recording: e.castPath,
	})
	if err != nil {
		t.Fatalf("start live session: %v", err)
	}
	cfg.Live = e.live

	for _, o := range opts {
		o(e, &cfg)
	}
	eng, err := cmdfilter.Load(t.Context(), st.DB, e.org)
	if err != nil {
		t.Fatalf("load filters: %v", err)
	}
	cfg.Filter = eng
	if cfg.Approvals == nil {
		cfg.Approvals = e.reg
	}

	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	cmd.Dir = e.dir
	cmd.Env = []string{
		"PS1=" + testPrompt, "HOME=" + e.dir, "HISTFILE=" + filepath.Join(e.dir, ".bash_history"),
		"TERM=xterm-256color", "LANG=C.UTF-8", "PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin",
	}
	e.target, err = StartPty(cmd, cfg.Size)
	if err != nil {
		t.Fatalf("start bash: %v", err)
	}
	cfg.Target = e.target

	go func() {
		defer close(e.done)
		e.res, e.err = Run(context.Background(), cfg)
	}()
	t.Cleanup(func() {
		e.user.hangUp()
		select {
		case <-e.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return after the user closed")
		}
	})
	e.user.waitFor(t, 0, testPrompt)
	return e
}

// run types a command line and waits for the next prompt; it returns what
// the screen showed in between.
func (e *testEnv) run(line string) string {
	e.t.Helper()
	m := e.user.mark()
	e.user.typeKeys(e.t, line+"\r")
	end := e.user.waitFor(e.t, m, testPrompt)
	return e.user.since(m)[:end-m]
}

// wait waits for Run to return.
func (e *testEnv) wait() (Result, error) {
	e.t.Helper()
	select {
	case <-e.done:
	case <-time.After(waitTimeout):
		e.t.Fatal("Run did not return")
	}
	return e.res, e.err
}

// close ends the session from the user's side and waits for Run.
func (e *testEnv) close() (Result, error) {
	e.t.Helper()
	e.user.hangUp()
	return e.wait()
}

// commands returns the command rows of the session, oldest first.
func (e *testEnv) commands() []store.Command {
	e.t.Helper()
	var cs []store.Command
	if err := e.st.DB.Where("session_id = ?", e.live.Meta().ID).Order("id").Find(&cs).Error; err != nil {
		e.t.Fatalf("read commands: %v", err)
	}
	return cs
}

// inputs returns the logged command lines with their verdicts.
func (e *testEnv) inputs() []string {
	var out []string
	for _, c := range e.commands() {
		out = append(out, c.Input+" => "+c.Verdict)
	}
	return out
}

// exists reports whether a file exists in the shell's directory.
func (e *testEnv) exists(name string) bool {
	_, err := os.Stat(filepath.Join(e.dir, name))
	return err == nil
}

// castOutput reads the recording back and returns its output and markers.
func castOutput(t *testing.T, path string) (record.Header, string, []string) {
	t.Helper()
	h, r, err := record.OpenCast(path)
	if err != nil {
		t.Fatalf("open recording: %v", err)
	}
	var out strings.Builder
	var markers []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read recording: %v", err)
		}
		switch ev.Kind {
		case "o":
			out.WriteString(ev.Data)
		case "m":
			markers = append(markers, ev.Data)
		}
	}
	return h, out.String(), markers
}

// castEvents returns the data of the recording's events of one kind.
func castEvents(t *testing.T, path, kind string) []string {
	t.Helper()
	_, r, err := record.OpenCast(path)
	if err != nil {
		t.Fatalf("open recording: %v", err)
	}
	var out []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read recording: %v", err)
		}
		if ev.Kind == kind {
			out = append(out, ev.Data)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
