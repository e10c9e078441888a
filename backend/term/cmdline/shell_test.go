package cmdline

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// The tests in this file drive a real bash in a real pty the way a user and
// the relay would: each key is written and its echo awaited, and at each
// Enter the test waits for the output to settle, asks the Extractor, and only
// then sends the Enter key.

// quiet is how long the output must be silent before Enter is asked.
const quiet = 30 * time.Millisecond

type shell struct {
	t *testing.T
	f *os.File
	x *Extractor

	mu      sync.Mutex // guards the fields below
	n       int        // output chunks so far
	last    time.Time  // when the last output arrived
	raw     bytes.Buffer
	done    bool
	changed chan struct{} // closed and replaced on each output
}

type shellOpts struct {
	cols, rows int
	ps1        string
	env        []string
}

func startShell(t *testing.T, o shellOpts) *shell {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash not found: %v", err)
	}
	if o.cols == 0 {
		o.cols, o.rows = 80, 24
	}
	if o.ps1 == "" {
		o.ps1 = `user@host:~$ `
	}
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{
		"PS1=" + o.ps1,
		"HISTFILE=/dev/null",
		"TERM=xterm-256color",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + cmd.Dir,
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
	}, o.env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(o.cols), Rows: uint16(o.rows)})
	if err != nil {
		t.Fatalf("start bash in a pty: %v", err)
	}
	sh := &shell{t: t, f: f, x: New(o.cols, o.rows), last: time.Now(), changed: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				sh.x.Output(buf[:n])
				sh.mu.Lock()
				sh.raw.Write(buf[:n])
				sh.n++
				sh.last = time.Now()
				close(sh.changed)
				sh.changed = make(chan struct{})
				sh.mu.Unlock()
			}
			if err != nil {
				sh.mu.Lock()
				sh.done = true
				sh.mu.Unlock()
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
		<-readDone
		if t.Failed() {
			sh.mu.Lock()
			t.Logf("bash output:\n%q", sh.raw.String())
			sh.mu.Unlock()
			t.Logf("screen:\n%s", sh.x.scr)
		}
	})
	sh.waitOutput("$ ", 5*time.Second)
	sh.settle()
	return sh
}

// waitOutput waits until the output contains s, or fails the test.
func (sh *shell) waitOutput(s string, timeout time.Duration) {
	sh.t.Helper()
	deadline := time.After(timeout)
	for {
		sh.mu.Lock()
		found, ch := strings.Contains(sh.raw.String(), s), sh.changed
		sh.mu.Unlock()
		if found {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			sh.t.Fatalf("timed out waiting for %q in the output", s)
		}
	}
}

// waitUntil polls cond until it holds, or fails the test.
func (sh *shell) waitUntil(what string, cond func() bool) {
	sh.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			sh.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until the output has been quiet for the quiet period.
func (sh *shell) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sh.mu.Lock()
		idle := time.Since(sh.last)
		sh.mu.Unlock()
		if idle >= quiet {
			return
		}
		time.Sleep(quiet - idle)
	}
}

// write sends p to bash and waits for an answer (the echo), for at most
// echoWait when none comes (no echo at a password prompt).
func (sh *shell) write(p []byte, echoWait time.Duration) {
	sh.t.Helper()
	sh.mu.Lock()
	n0, ch := sh.n, sh.changed
	sh.mu.Unlock()
	sh.x.Input(p)
	if _, err := sh.f.Write(p); err != nil {
		sh.t.Fatalf("write to pty: %v", err)
	}
	select {
	case <-ch:
	case <-time.After(echoWait):
	}
	_ = n0
	time.Sleep(2 * time.Millisecond)
}

type entered struct {
	cmd string
	ok  bool
}

// echoWait bounds the wait for the echo of a key.
const echoWait = 3 * time.Second

// typ types s key by key as a user would, waiting for each echo; each Enter
// goes through the Extractor first, the way the relay handles it.
func (sh *shell) typ(s string) []entered {
	sh.t.Helper()
	return sh.send(s, true, echoWait)
}

// typBlind types s at a prompt that does not echo.
func (sh *shell) typBlind(s string) []entered {
	sh.t.Helper()
	return sh.send(s, true, 50*time.Millisecond)
}

// paste sends s as one write, as a terminal sends a paste; the relay splits
// it at each Enter.
func (sh *shell) paste(s string) []entered {
	sh.t.Helper()
	return sh.send(s, false, echoWait)
}

func (sh *shell) send(s string, keyByKey bool, wait time.Duration) []entered {
	sh.t.Helper()
	var got []entered
	for _, seg := range sh.x.SplitAtEnter([]byte(s)) {
		if keyByKey {
			for _, k := range keyUnits(seg.Keys) {
				sh.write(k, wait)
			}
		} else if len(seg.Keys) > 0 {
			sh.write(seg.Keys, wait)
		}
		if seg.Enter != nil {
			sh.settle()
			cmd, ok := sh.x.Enter()
			got = append(got, entered{cmd, ok})
			sh.mu.Lock()
			ch := sh.changed
			sh.mu.Unlock()
			if _, err := sh.f.Write(seg.Enter); err != nil {
				sh.t.Fatalf("write Enter: %v", err)
			}
			select {
			case <-ch:
			case <-time.After(echoWait):
			}
			sh.settle()
		}
	}
	return got
}

// keyUnits splits input into keys: escape sequences, UTF-8 characters and
// single bytes.
func keyUnits(p []byte) [][]byte {
	var keys [][]byte
	for len(p) > 0 {
		n := 1
		switch {
		case p[0] == 0x1b && len(p) > 1 && p[1] == '[':
			n = 2
			for n < len(p) && !(p[n] >= 0x40 && p[n] <= 0x7e) {
				n++
			}
			n = min(n+1, len(p))
			if bytes.HasPrefix(p, []byte("\x1b[200~")) {
				// A bracketed paste arrives in one piece.
				if i := bytes.Index(p, []byte("\x1b[201~")); i >= 0 {
					n = i + 6
				}
			}
		case p[0] == 0x1b && len(p) > 1 && p[1] == 'O':
			n = min(3, len(p))
		case p[0] >= 0xc0:
			n = 2
			for n < len(p) && p[n]&0xc0 == 0x80 {
				n++
			}
			n = min(n, len(p))
		}
		keys = append(keys, p[:n])
		p = p[n:]
	}
	return keys
}

func TestShellCommands(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"uniqfile-x7q2", "alpha1", "alpha2"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("hi\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := "echo " + strings.Repeat("0123456789", 12) // wraps past 80 columns
	tests := []struct {
		name  string
		opts  shellOpts
		steps []string // typed key by key; "PASTE:" sends a step in one write, "BLIND:" types at a prompt without echo
		want  []entered
	}{
		{"plain", shellOpts{}, []string{"echo hello\r"}, []entered{{"echo hello", true}}},
		{"backspace", shellOpts{}, []string{"echo hxx\x7f\x7fello\r"}, []entered{{"echo hello", true}}},
		{"ctrl-u then retype", shellOpts{}, []string{"rm -rf /tmp/nothing\x15echo retyped\r"}, []entered{{"echo retyped", true}}},
		{"ctrl-w", shellOpts{}, []string{"echo hello wrongword\x17world\r"}, []entered{{"echo hello world", true}}},
		{"left arrow insert", shellOpts{}, []string{"echo wrld\x1b[D\x1b[D\x1b[Do\r"}, []entered{{"echo world", true}}},
		{"history recall", shellOpts{}, []string{"echo first\r", "\x1b[A\r"},
			[]entered{{"echo first", true}, {"echo first", true}}},
		{"history recall and edit", shellOpts{}, []string{"echo first\r", "echo other\r", "\x1b[A\x1b[A\x7f\x7f\x7f\x7f\x7fsecond\r"},
			[]entered{{"echo first", true}, {"echo other", true}, {"echo second", true}}},
		{"tab completes a command", shellOpts{}, []string{"ech\thello\r"}, []entered{{"echo hello", true}}},
		{"tab completes a file", shellOpts{}, []string{"cat " + dir + "/uniq\t\r"}, []entered{{"cat " + dir + "/uniqfile-x7q2", true}}},
		{"tab lists completions", shellOpts{}, []string{"ls " + dir + "/al\t\t2\r"}, []entered{{"ls " + dir + "/alpha2", true}}},
		{"paste of two lines", shellOpts{}, []string{"PASTE:echo a\necho b\n"}, []entered{{"echo a", true}, {"echo b", true}}},
		{"bracketed paste", shellOpts{}, []string{"\x1b[200~echo a\recho b\r\x1b[201~", "\r"}, []entered{{"echo a\necho b", true}}},
		{"password prompt", shellOpts{}, []string{`read -s -p "Password: " pw` + "\r", "BLIND:s3cret\r", "echo next\r"},
			[]entered{{`read -s -p "Password: " pw`, true}, {"", false}, {"echo next", true}}},
		{"sudo-like prompt", shellOpts{}, []string{`read -s -p "[sudo] password for user: " pw; echo; echo ran` + "\r", "BLIND:hunter2\r"},
			[]entered{{`read -s -p "[sudo] password for user: " pw; echo; echo ran`, true}, {"", false}}},
		{"read with echo", shellOpts{}, []string{"read v\r", "some text\r"}, []entered{{"read v", true}, {"some text", true}}},
		{"long command wraps", shellOpts{}, []string{long + "\r"}, []entered{{long, true}}},
		{"long command edited across the wrap", shellOpts{}, []string{long + "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7fX\r"},
			[]entered{{long[:len(long)-46] + "X", true}}},
		{"command exactly at the margin", shellOpts{}, []string{"echo " + strings.Repeat("x", 62) + "\r"}, []entered{{"echo " + strings.Repeat("x", 62), true}}},
		{"clear then a command", shellOpts{}, []string{"clear\r", "echo cleared\r"}, []entered{{"clear", true}, {"echo cleared", true}}},
		{"ctrl-l keeps the line", shellOpts{}, []string{"echo x\x0cy\r"}, []entered{{"echo xy", true}}},
		{"ctrl-c clears", shellOpts{}, []string{"echo abandoned\x03", "echo kept\r"}, []entered{{"echo kept", true}}},
		{"ctrl-c stops a command", shellOpts{}, []string{"sleep 30\r", "\x03", "echo after\r"}, []entered{{"sleep 30", true}, {"echo after", true}}},
		{"continuation lines", shellOpts{}, []string{"echo a \\\r", "b\r"}, []entered{{"", false}, {"echo a b", true}}},
		{"empty enter", shellOpts{}, []string{"\r", "echo x\r"}, []entered{{"", true}, {"echo x", true}}},
		{"reverse search", shellOpts{}, []string{"echo needle\r", "echo hay\r", "\x12need\r"},
			[]entered{{"echo needle", true}, {"echo hay", true}, {"echo needle", true}}},
		{"coloured prompt", shellOpts{ps1: `\[\e[1;32m\]user@host\[\e[0m\]:\[\e[1;34m\]~\[\e[0m\]$ `}, []string{"echo colour\r", "\x1b[A\x7f\x7f\x7f\x7f\x7f\x7fshade\r"},
			[]entered{{"echo colour", true}, {"echo shade", true}}},
		{"two-line prompt", shellOpts{ps1: `[\u@\h \W]\n$ `}, []string{"echo two\r"}, []entered{{"echo two", true}}},
		{"prompt at the bottom scrolls", shellOpts{}, []string{"seq 1 40\r", long + "\r", "\x1b[A\r"},
			[]entered{{"seq 1 40", true}, {long, true}, {long, true}}},
		{"narrow terminal", shellOpts{cols: 30, rows: 10}, []string{"echo " + strings.Repeat("ab", 40) + "\r"}, []entered{{"echo " + strings.Repeat("ab", 40), true}}},
		{"operate-and-get-next", shellOpts{}, []string{"echo one\r", "echo two\r", "\x1b[A\x1b[A\x0f", "\r"},
			[]entered{{"echo one", true}, {"echo two", true}, {"echo one", true}, {"echo two", true}}},
		{"typed ahead", shellOpts{}, []string{"PASTE:sleep 0.5\r", "echo ahead\r"}, []entered{{"sleep 0.5", true}, {"echo ahead", true}}},
		{"unicode", shellOpts{}, []string{"echo héllo 世界\r"}, []entered{{"echo héllo 世界", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := startShell(t, tt.opts)
			var got []entered
			for _, step := range tt.steps {
				if p, ok := strings.CutPrefix(step, "PASTE:"); ok {
					got = append(got, sh.paste(p)...)
				} else if p, ok := strings.CutPrefix(step, "BLIND:"); ok {
					got = append(got, sh.typBlind(p)...)
				} else {
					got = append(got, sh.typ(step)...)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d commands %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("command %d: got %q (ok=%v), want %q (ok=%v)", i, got[i].cmd, got[i].ok, tt.want[i].cmd, tt.want[i].ok)
				}
			}
		})
	}
}

func TestShellBlindLine(t *testing.T) {
	sh := startShell(t, shellOpts{})
	sh.typ(`read -s -p "Password: " pw` + "\r")
	sh.typBlind("s3cr\x7fret")
	sh.settle()
	cmd, ok := sh.x.Enter()
	if cmd != "" || ok {
		t.Fatalf("got %q, %v, want \"\", false at a password prompt", cmd, ok)
	}
	if got, want := sh.x.Blind(), "s3cret"; got != want {
		t.Errorf("got Blind %q, want %q", got, want)
	}
	sh.write([]byte("\r"), time.Second)
	sh.write([]byte("x"), time.Second)
	if got := sh.x.Blind(); got != "" {
		t.Errorf("got Blind %q after more input, want \"\"", got)
	}
}

// top (procps) redraws the main screen instead of using the alternate one:
// keys typed in it are not told apart, but the first command after it must be.
func TestShellTop(t *testing.T) {
	if _, err := exec.LookPath("top"); err != nil {
		t.Skip("top is not installed (apt-get install procps)")
	}
	sh := startShell(t, shellOpts{})
	sh.typ("top -d 1\r")
	sh.waitOutput("PID", 5*time.Second)
	sh.settle()
	sh.paste("h")
	sh.paste("q")
	sh.paste("q")
	sh.settle()
	got := sh.typ("echo back\r")
	if want := (entered{"echo back", true}); len(got) != 1 || got[0] != want {
		t.Errorf("after quitting top: got %+v, want %+v", got, want)
	}
}

func TestShellFullScreen(t *testing.T) {
	for _, tt := range []struct {
		name, open string
		inside     []string // keys typed inside the program; "\r" goes through Enter
		quit       string
	}{
		{"vi", "vi -u NONE -N " + filepath.Join(t.TempDir(), "notes.txt"), []string{"ihello\r", "world\x1b"}, ":wq\r"},
		{"less", "less /etc/passwd", []string{" ", "/root\r"}, "q"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := exec.LookPath(strings.Fields(tt.open)[0]); errors.Is(err, exec.ErrNotFound) {
				t.Skipf("%s is not installed (apt-get install vim-tiny less procps)", tt.name)
			}
			sh := startShell(t, shellOpts{})
			got := sh.typ(tt.open + "\r")
			if want := (entered{tt.open, true}); len(got) != 1 || got[0] != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			sh.waitUntil("the alternate screen", sh.x.FullScreen)
			for _, k := range tt.inside {
				for _, e := range sh.typ(k) {
					if e.ok || e.cmd != "" {
						t.Errorf("Enter inside %s: got %q, %v, want \"\", false", tt.name, e.cmd, e.ok)
					}
				}
			}
			sh.paste(tt.quit)
			sh.waitUntil("the main screen", func() bool { return !sh.x.FullScreen() })
			sh.settle()
			got = sh.typ("echo back\r")
			if want := (entered{"echo back", true}); len(got) != 1 || got[0] != want {
				t.Errorf("after quitting %s: got %+v, want %+v", tt.name, got, want)
			}
		})
	}
}

// What the screen shows is under the target's control: a line typed under a
// fake full-screen program or with echo off still runs. Enter reports no
// command for it, and Blind gives the line for a check against deny rules.
func TestShellHiddenLines(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup []string
		blind bool
	}{
		{"fake alternate screen", []string{`printf '\e[?1049h'` + "\r"}, false},
		{"echo off in sh", []string{"sh\r", "stty -echo\r"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sh := startShell(t, shellOpts{})
			for _, s := range tt.setup {
				sh.typ(s)
			}
			var got []entered
			if tt.blind {
				got = sh.typBlind("echo hidden-line\r")
			} else {
				got = sh.typ("echo hidden-line\r")
			}
			if want := (entered{"", false}); len(got) != 1 || got[0] != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			if got, want := sh.x.Blind(), "echo hidden-line"; got != want {
				t.Errorf("got Blind %q, want %q", got, want)
			}
			sh.waitUntil("the shell to run the line", func() bool {
				sh.mu.Lock()
				defer sh.mu.Unlock()
				raw := sh.raw.String()
				return strings.Count(raw, "hidden-line") > strings.Count(raw, "echo hidden-line")
			})
		})
	}
}

func TestShellResize(t *testing.T) {
	sh := startShell(t, shellOpts{})
	sh.typ("echo " + strings.Repeat("r", 60))
	sh.x.Resize(40, 12)
	if err := pty.Setsize(sh.f, &pty.Winsize{Cols: 40, Rows: 12}); err != nil {
		t.Fatal(err)
	}
	sh.settle()
	got := sh.typ("s\r")
	if want := (entered{"echo " + strings.Repeat("r", 60) + "s", true}); len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
