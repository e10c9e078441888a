package term

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/store"
)

func TestOutputReachesUserAndRecording(t *testing.T) {
	e := startEnv(t)
	out := e.run("echo hello-$((6*7))")
	if !strings.Contains(out, "hello-42") {
		t.Errorf("got screen %q, want hello-42", out)
	}
	res, err := e.close()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.EndReason != EndClientClosed {
		t.Errorf("got end reason %q, want %q", res.EndReason, EndClientClosed)
	}
	if res.BytesOut == 0 || res.BytesIn == 0 || res.Commands != 1 {
		t.Errorf("got result %+v, want bytes both ways and 1 command", res)
	}
	h, cast, markers := castOutput(t, e.castPath)
	if h.Width != 80 || h.Height != 24 {
		t.Errorf("got recording size %dx%d, want 80x24", h.Width, h.Height)
	}
	if !strings.Contains(cast, "hello-42") || !strings.Contains(cast, testPrompt) {
		t.Errorf("got recorded output %q, want the prompt and hello-42", cast)
	}
	if want := []string{"echo hello-$((6*7))"}; !equalStrings(markers, want) {
		t.Errorf("got markers %q, want %q", markers, want)
	}
	if got, want := e.inputs(), []string{"echo hello-$((6*7)) => allowed"}; !equalStrings(got, want) {
		t.Errorf("got commands %q, want %q", got, want)
	}
	var row store.Session
	if err := e.st.DB.First(&row, "id = ?", e.live.Meta().ID).Error; err != nil {
		t.Fatalf("session row: %v", err)
	}
	if row.EndReason != EndClientClosed || row.EndedAt == nil || row.CommandCount != 1 || row.BytesOut != res.BytesOut || row.BytesIn != res.BytesIn {
		t.Errorf("got session row %+v, want ended by the client with the counts of %+v", row, res)
	}
}

// TestCommandsFromTheScreen types commands with line editing, history recall
// and completion, and checks that each is logged once, as it ran.
func TestCommandsFromTheScreen(t *testing.T) {
	tests := []struct {
		name string
		keys []string // typed one after the other, each as one read, with a pause between
		want string
	}{
		{"plain", []string{"echo plain"}, "echo plain"},
		{"backspace", []string{"echo typoo", "\x7f\x7f", "o"}, "echo typo"},
		{"ctrl-u then retype", []string{"rm -rf /tmp/nothing", "\x15", "echo retyped"}, "echo retyped"},
		{"ctrl-w", []string{"echo one two", "\x17", "three"}, "echo one three"},
		{"cursor left and insert", []string{"echo ac", "\x1b[D", "b"}, "echo abc"},
		{"history recall", []string{"\x1b[A"}, "echo abc"},
		{"history recall and edit", []string{"\x1b[A", "\x7f\x7f", "xy"}, "echo axy"},
		{"tab completion", []string{"echo complete-me > completion-target-file", "\r", "cat completion-targ", "\t"}, "cat completion-target-file"},
	}
	e := startEnv(t)
	var want []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.user.mark()
			for _, k := range tt.keys {
				e.user.typeKeys(t, k)
				if k == "\r" {
					m = e.user.waitFor(t, m, testPrompt)
					want = append(want, strings.TrimSpace(tt.keys[0])+" => allowed")
					continue
				}
				time.Sleep(60 * time.Millisecond) // let the echo come back, as for a person typing
			}
			e.user.typeKeys(t, "\r")
			e.user.waitFor(t, m, testPrompt)
			want = append(want, tt.want+" => allowed")
			if got := e.inputs(); !equalStrings(got, want) {
				t.Errorf("got commands %q, want %q", got, want)
			}
		})
	}
}

// TestDeniedCommandNeverRuns proves with canaries that a refused command's
// Enter never reaches bash: rm is a shim that leaves a file behind, and a deny
// rule guards a touch of a canary path, while an allowed touch does run.
func TestDeniedCommandNeverRuns(t *testing.T) {
	e := startEnv(t, withRules(testRule{name: "No canary", action: store.FilterDeny, content: "touch DENIED-CANARY"}))
	if err := e.st.DB.Model(&store.CommandFilter{}).Where("name = ?", "Deny dangerous commands").Update("priority", 0).Error; err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		keys   string
		rule   string
		canary string
		logged string
		pasted bool
	}{
		{"built-in rule", "rm -rf /", "Deny dangerous commands", "RM-RAN", "rm -rf /", false},
		{"built-in rule after a command", "true; rm -rf /", "Deny dangerous commands", "RM-RAN", "true; rm -rf /", false},
		{"custom literal", "touch DENIED-CANARY", "No canary", "DENIED-CANARY", "touch DENIED-CANARY", false},
		{"cursor moved back before Enter", "true; rm -rf /\x01\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C", "Deny dangerous commands", "RM-RAN", "true; rm -rf /", false},
		{"line continuation", "rm -rf \\\r/", "Deny dangerous commands", "RM-RAN", "rm -rf /", false},
		{"pasted line continuation", "rm -rf \\\r/\r", "Deny dangerous commands", "RM-RAN", "rm -rf /", true},
		{"bracketed paste", "\x1b[200~touch DENIED-CANARY\r\x1b[201~", "No canary", "DENIED-CANARY", "touch DENIED-CANARY", true},
		{"screen made to look full-screen", "printf '\\e[?1049h'\rtouch DENIED-CANARY", "No canary", "DENIED-CANARY", "touch DENIED-CANARY", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.user.typeKeys(t, "clear\r")
			m := e.user.waitFor(t, e.user.mark(), testPrompt)
			if tt.pasted {
				e.user.typeKeys(t, tt.keys) // all at once, as a paste
			}
			for i, part := range strings.SplitAfter(tt.keys, "\r") {
				if tt.pasted {
					break
				}
				if i > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				e.user.typeKeys(t, part)
			}
			time.Sleep(100 * time.Millisecond)
			if !tt.pasted {
				e.user.typeKeys(t, "\r")
			}
			m = e.user.waitFor(t, m, "[Portcullis] ")
			got := e.user.since(m)
			if want := "denied by rule \"" + tt.rule + "\""; !strings.Contains(got, want) {
				t.Errorf("got notice %q, want it to say %q", got, want)
			}
			// A marker command right after: it runs, and the canary did not.
			e.run("echo marker-" + tt.canary + " && touch ALLOWED-CANARY")
			e.run("printf '\\e[?1049l'")
			if e.exists(tt.canary) {
				t.Fatalf("canary %s exists: the refused command ran", tt.canary)
			}
			if !e.exists("ALLOWED-CANARY") {
				t.Errorf("the allowed command after the denial did not run")
			}
			os.Remove(filepath.Join(e.dir, "ALLOWED-CANARY"))
			cs := e.commands()
			var found bool
			for _, c := range cs {
				if c.Input == tt.logged && c.Verdict == VerdictDenied && c.Risk == "critical" {
					found = true
				}
			}
			if !found {
				t.Errorf("got commands %q, want %q logged as denied (critical)", e.inputs(), tt.logged)
			}
		})
	}
}

func TestPasteOfSeveralLines(t *testing.T) {
	tests := []struct {
		name  string
		paste string
	}{
		{"plain", "echo first > order.txt\recho second >> order.txt\r"},
		{"crlf", "echo first > order.txt\r\necho second >> order.txt\r\n"},
		{"lf", "echo first > order.txt\necho second >> order.txt\n"},
		{"bracketed", "\x1b[200~echo first > order.txt\recho second >> order.txt\r\x1b[201~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t)
			m := e.user.mark()
			e.user.typeKeys(t, tt.paste)
			m = e.user.waitFor(t, m, testPrompt)
			e.user.waitFor(t, m, testPrompt)
			out := e.run("cat order.txt")
			if !strings.Contains(out, "first\r\nsecond") {
				t.Errorf("got %q, want both lines run in order", out)
			}
			want := []string{"echo first > order.txt => allowed", "echo second >> order.txt => allowed", "cat order.txt => allowed"}
			if got := e.inputs(); !equalStrings(got, want) {
				t.Errorf("got commands %q, want %q", got, want)
			}
		})
	}
}

// TestRestOfPasteDiscardedAfterDenial: a script pasted with a refused line
// stops there.
func TestRestOfPasteDiscardedAfterDenial(t *testing.T) {
	e := startEnv(t, withRules(testRule{name: "No canary", action: store.FilterDeny, content: "touch DENIED-CANARY"}))
	m := e.user.mark()
	e.user.typeKeys(t, "touch BEFORE\rtouch DENIED-CANARY\rtouch AFTER\r")
	e.user.waitFor(t, m, Message("en", MsgInputDiscarded))
	e.run("")
	if !e.exists("BEFORE") || e.exists("DENIED-CANARY") || e.exists("AFTER") {
		t.Errorf("got BEFORE %v, DENIED-CANARY %v, AFTER %v; want true, false, false", e.exists("BEFORE"), e.exists("DENIED-CANARY"), e.exists("AFTER"))
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		name    string
		decide  func(e *testEnv, id uint) // nil: nobody decides
		timeout time.Duration
		ran     bool
		verdict string
		notice  string
	}{
		{"approved", func(e *testEnv, id uint) {
			if err := e.reg.Decide(context.Background(), id, true, "bob"); err != nil {
				e.t.Errorf("approve: %v", err)
			}
		}, 5 * time.Second, true, VerdictApproved, "Approved by bob."},
		{"rejected", func(e *testEnv, id uint) {
			if err := e.reg.Decide(context.Background(), id, false, "bob"); err != nil {
				e.t.Errorf("reject: %v", err)
			}
		}, 5 * time.Second, false, VerdictRejected, "rejected by bob"},
		{"timed out", nil, 300 * time.Millisecond, false, VerdictExpired, "No approval in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t,
				withRules(testRule{name: "Ask first", action: store.FilterConfirm, content: "touch CONFIRM-CANARY"}),
				func(e *testEnv, c *Config) { c.ConfirmTimeout = tt.timeout })
			approvals, stop := e.reg.SubscribeApprovals(0)
			defer stop()
			m := e.user.mark()
			e.user.typeKeys(t, "touch CONFIRM-CANARY\r")
			m = e.user.waitFor(t, m, "needs approval (rule \"Ask first\")")
			var a store.Approval
			select {
			case a = <-approvals:
			case <-time.After(waitTimeout):
				t.Fatal("no approval request")
			}
			if a.Command != "touch CONFIRM-CANARY" || a.Status != store.ApprovalPending {
				t.Errorf("got approval %+v, want the pending command", a)
			}
			// Input typed while the command waits is held, not lost.
			e.user.typeKeys(t, "echo typed-while-waiting\r")
			time.Sleep(50 * time.Millisecond)
			if e.exists("CONFIRM-CANARY") {
				t.Fatal("the command ran before a decision")
			}
			if tt.decide != nil {
				tt.decide(e, a.ID)
			}
			m = e.user.waitFor(t, m, tt.notice)
			e.user.waitFor(t, m, "typed-while-waiting")
			e.run("")
			if got := e.exists("CONFIRM-CANARY"); got != tt.ran {
				t.Errorf("got command ran %v, want %v", got, tt.ran)
			}
			cs := e.commands()
			if len(cs) == 0 || cs[0].Input != "touch CONFIRM-CANARY" || cs[0].Verdict != tt.verdict || cs[0].Risk != "high" {
				t.Errorf("got commands %q, want the command logged %s (high)", e.inputs(), tt.verdict)
			}
		})
	}
}

func TestWarnRunsFlaggedAndNotifies(t *testing.T) {
	notified := make(chan store.Command, 1)
	e := startEnv(t,
		withRules(testRule{name: "Watch this", action: store.FilterWarn, content: "touch WARN-CANARY"}),
		func(e *testEnv, c *Config) {
			c.Notify = func(cmd store.Command, v cmdfilter.Verdict) { notified <- cmd }
		})
	e.run("touch WARN-CANARY")
	if !e.exists("WARN-CANARY") {
		t.Error("a warned command did not run")
	}
	select {
	case c := <-notified:
		if c.Input != "touch WARN-CANARY" || c.Risk != "medium" || c.Verdict != VerdictWarned {
			t.Errorf("got notified %+v, want the command, medium, warned", c)
		}
	case <-time.After(waitTimeout):
		t.Error("Notify not called for a warned command")
	}
	if got, want := e.inputs(), []string{"touch WARN-CANARY => warned"}; !equalStrings(got, want) {
		t.Errorf("got commands %q, want %q", got, want)
	}
}

func TestLockDropsInput(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	id := e.live.Meta().ID
	m := e.user.mark()
	if err := e.reg.Lock(ctx, id, true, "admin"); err != nil {
		t.Fatal(err)
	}
	m = e.user.waitFor(t, m, Message("en", MsgLocked))
	e.user.typeKeys(t, "touch LOCKED-CANARY\r")
	e.user.typeKeys(t, "x")
	time.Sleep(200 * time.Millisecond)
	if got := e.user.since(m); strings.Contains(got, "LOCKED") || strings.Contains(got, "locked") {
		t.Errorf("got %q after the lock notice, want input dropped silently after one notice", got)
	}
	if err := e.reg.Lock(ctx, id, false, "admin"); err != nil {
		t.Fatal(err)
	}
	e.user.waitFor(t, m, Message("en", MsgUnlocked))
	e.run("touch UNLOCKED")
	if e.exists("LOCKED-CANARY") || !e.exists("UNLOCKED") {
		t.Errorf("got LOCKED-CANARY %v, UNLOCKED %v; want false, true", e.exists("LOCKED-CANARY"), e.exists("UNLOCKED"))
	}
}

func TestKillShowsReasonAndEnds(t *testing.T) {
	e := startEnv(t)
	m := e.user.mark()
	if err := e.reg.Kill(context.Background(), e.live.Meta().ID, "maintenance window", "admin"); err != nil {
		t.Fatal(err)
	}
	res, err := e.wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "killed by admin: maintenance window"
	if res.EndReason != want {
		t.Errorf("got end reason %q, want %q", res.EndReason, want)
	}
	if got := e.user.since(m); !strings.Contains(got, "Session terminated ("+want+")") {
		t.Errorf("got screen %q, want the kill reason", got)
	}
	select {
	case <-e.target.Exited():
	case <-time.After(waitTimeout):
		t.Error("bash still runs after the kill")
	}
	var row store.Session
	e.st.DB.First(&row, "id = ?", e.live.Meta().ID)
	if row.EndReason != want {
		t.Errorf("got row end reason %q, want %q", row.EndReason, want)
	}
	_, cast, _ := castOutput(t, e.castPath)
	if !strings.Contains(cast, want) {
		t.Errorf("recording does not show the kill notice: %q", cast)
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		idle    time.Duration
		max     time.Duration
		typing  bool // keep typing while the clock moves
		endsAt  int  // the advance of 29 minutes after which the session must end
		want    string
		message string
	}{
		{"idle", 30 * time.Minute, 0, false, 2, EndIdle, "no input for 30m"},
		{"max duration despite typing", 30 * time.Minute, 8 * time.Hour, true, 17, EndMaxDuration, "maximum duration of 8h reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &testClock{t: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
			e := startEnv(t, func(e *testEnv, c *Config) {
				c.Clock, c.IdleTimeout, c.MaxDuration = clk.Now, tt.idle, tt.max
			})
			m := e.user.mark()
			for i := 1; i < tt.endsAt; i++ {
				clk.Advance(29 * time.Minute)
				time.Sleep(50 * time.Millisecond) // a few ticks of the relay
				select {
				case <-e.done:
					t.Fatalf("session ended after %d x 29 minutes, want it to run until %d", i, tt.endsAt)
				default:
				}
				if tt.typing {
					// Wait for the echo, so that the relay saw the key before the clock moves on.
					k := e.user.mark()
					e.user.typeKeys(t, "x")
					k = e.user.waitFor(t, k, "x")
					e.user.typeKeys(t, "\x7f")
					e.user.waitFor(t, k, "\b")
				}
			}
			clk.Advance(29 * time.Minute)
			res, err := e.wait()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.EndReason != tt.want {
				t.Errorf("got end reason %q, want %q", res.EndReason, tt.want)
			}
			if got := e.user.since(m); !strings.Contains(got, tt.message) {
				t.Errorf("got screen %q, want %q", got, tt.message)
			}
		})
	}
}

func TestResize(t *testing.T) {
	e := startEnv(t)
	tests := []struct {
		size Size
		want string
	}{
		{Size{100, 40}, "40 100"},
		{Size{5000, 99999}, "1000 1000"}, // clamped
		{Size{0, 50}, "1000 1000"},       // refused: unchanged
		{Size{-3, -3}, "1000 1000"},
		{Size{132, 43}, "43 132"},
	}
	for _, tt := range tests {
		e.resizes <- tt.size
		time.Sleep(50 * time.Millisecond)
		if out := e.run("stty size"); !strings.Contains(out, "\r"+tt.want+"\r\n") {
			t.Errorf("after resize to %v: got %q, want %q", tt.size, out, tt.want)
		}
	}
	if m := e.live.Meta(); m.Width != 132 || m.Height != 43 {
		t.Errorf("got live size %dx%d, want 132x43", m.Width, m.Height)
	}
	e.close()
	if r, want := castEvents(t, e.castPath, "r"), []string{"100x40", "1000x1000", "132x43"}; !equalStrings(r, want) {
		t.Errorf("got resize events %q, want %q", r, want)
	}
}

// TestBytesPassThroughUntouched: invalid UTF-8 and escape sequences reach the
// user and the recording byte for byte, and odd input does no harm.
func TestBytesPassThroughUntouched(t *testing.T) {
	e := startEnv(t)
	payload := "\xff\xfe\xc3(\x1b[31mred\x1b[0m\x1b]0;title\x07\x1b[?25l\x1b[?25h\x9b\x00end"
	if err := os.WriteFile(filepath.Join(e.dir, "payload"), []byte(payload), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.run("cat payload")
	if !strings.Contains(out, payload) {
		t.Errorf("got %q, want the payload %q untouched", out, payload)
	}
	// Garbage input: invalid UTF-8, lone escapes, NULs; the session survives.
	e.user.typeKeys(t, "\xff\xfe\x00\x1b\x1b[\x1b[99999999999999999999A\x9b")
	time.Sleep(100 * time.Millisecond)
	m := e.user.mark()
	e.user.typeKeys(t, "\x03")
	e.user.waitFor(t, m, testPrompt)
	if out := e.run("echo still-alive"); !strings.Contains(out, "still-alive") {
		t.Errorf("got %q after garbage input, want the session alive", out)
	}
	e.close()
	_, cast, _ := castOutput(t, e.castPath)
	if !strings.Contains(cast, strings.ToValidUTF8(payload, "\ufffd")) && !strings.Contains(cast, payload) {
		t.Errorf("recording lost the payload: %q", cast)
	}
}

func TestTargetAndClientClose(t *testing.T) {
	t.Run("target exits", func(t *testing.T) {
		e := startEnv(t)
		e.user.typeKeys(t, "exit\r")
		res, err := e.wait()
		if err != nil || res.EndReason != EndTargetClosed {
			t.Errorf("got %q, %v; want %q, nil", res.EndReason, err, EndTargetClosed)
		}
	})
	t.Run("client closes", func(t *testing.T) {
		e := startEnv(t)
		res, err := e.close()
		if err != nil || res.EndReason != EndClientClosed {
			t.Errorf("got %q, %v; want %q, nil", res.EndReason, err, EndClientClosed)
		}
		select {
		case <-e.target.Exited():
		case <-time.After(waitTimeout):
			t.Error("bash still runs after the client closed")
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		u := newUserTerm()
		tg := newEchoTarget()
		done := make(chan Result, 1)
		go func() {
			res, _ := Run(ctx, Config{User: u, Target: tg})
			done <- res
		}()
		cancel()
		select {
		case res := <-done:
			if res.EndReason != EndCanceled {
				t.Errorf("got %q, want %q", res.EndReason, EndCanceled)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run did not return after the context was canceled")
		}
	})
	t.Run("missing target", func(t *testing.T) {
		_, err := Run(context.Background(), Config{User: newUserTerm()})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("got %v, want ErrInvalidConfig", err)
		}
	})
}

func TestFullScreenProgramsLogNoCommands(t *testing.T) {
	e := startEnv(t)
	m := e.user.mark()
	e.user.typeKeys(t, "vim -u NONE -N notes.txt\r")
	m = e.user.waitFor(t, m, "\x1b[?1049h")
	time.Sleep(300 * time.Millisecond)
	for _, k := range []string{"i", "first line", "\r", "second line", "\r", "\x1b", ":wq", "\r"} {
		e.user.typeKeys(t, k)
		time.Sleep(30 * time.Millisecond)
	}
	e.user.waitFor(t, m, testPrompt)
	e.run("cat notes.txt")
	if got, want := e.inputs(), []string{"vim -u NONE -N notes.txt => allowed", "cat notes.txt => allowed"}; !equalStrings(got, want) {
		t.Errorf("got commands %q, want %q", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(e.dir, "notes.txt"))
	if string(b) != "first line\nsecond line\n\n" {
		t.Errorf("got file %q, want the lines typed in vim", b)
	}
}

func TestPasswordPromptNotLogged(t *testing.T) {
	e := startEnv(t)
	m := e.user.mark()
	e.user.typeKeys(t, "read -s -p 'Password: ' pw; echo; echo len=${#pw}\r")
	m = e.user.waitFor(t, m, "\rPassword: ") // the prompt, not the echo of the command
	e.user.typeKeys(t, "hunter2-secret\r")
	e.user.waitFor(t, m, "len=14")
	e.user.waitFor(t, m, testPrompt)
	for _, c := range e.commands() {
		if strings.Contains(c.Input, "hunter2") {
			t.Errorf("got command %q logged from a no-echo prompt", c.Input)
		}
	}
	if got := len(e.commands()); got != 1 {
		t.Errorf("got %d commands %q, want only the read command", got, e.inputs())
	}
}

func TestJoinerInput(t *testing.T) {
	e := startEnv(t)
	m := e.user.mark()
	if err := e.live.SendInput(context.Background(), []byte("echo from-joiner\r")); err != nil {
		t.Fatal(err)
	}
	e.user.waitFor(t, m, "from-joiner\r\n")
	e.user.waitFor(t, m, testPrompt)
	if got, want := e.inputs(), []string{"echo from-joiner => allowed"}; !equalStrings(got, want) {
		t.Errorf("got commands %q, want %q", got, want)
	}
}

// failingWriter accepts the recording's header, then fails every write.
type failingWriter struct{ n atomic.Int64 }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n.Add(int64(len(p))) > 4096 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestRequireRecordingEndsSessionWhenTheRecorderFails(t *testing.T) {
	tests := []struct {
		name    string
		require bool
		want    string
	}{
		{"required", true, EndRecording},
		{"best effort", false, EndClientClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := record.NewCastWriter(&failingWriter{}, record.Plain, record.Header{Width: 80, Height: 24}, record.CastOptions{FlushInterval: 10 * time.Millisecond, NoFsync: true})
			if err != nil {
				t.Fatal(err)
			}
			e := startEnv(t, func(e *testEnv, c *Config) {
				c.Recorder.Close()
				c.Recorder, c.RequireRecording = rec, tt.require
			})
			m := e.user.mark()
			e.user.typeKeys(t, "head -c 20000 /dev/zero | tr '\\0' x\r")
			if tt.require {
				res, err := e.wait()
				if res.EndReason != tt.want || err == nil {
					t.Errorf("got %q, %v; want %q and the recorder's error", res.EndReason, err, tt.want)
				}
				e.user.waitFor(t, m, Message("en", MsgRecordingFailed))
				return
			}
			e.user.waitFor(t, m, testPrompt)
			e.run("echo still-running")
			if res, _ := e.close(); res.EndReason != tt.want {
				t.Errorf("got %q, want %q", res.EndReason, tt.want)
			}
		})
	}
}

// TestCommandAfterFlood: after a flood of output (which the extractor may
// have had to skip part of), the next command is still read right.
func TestCommandAfterFlood(t *testing.T) {
	e := startEnv(t)
	m := e.user.mark()
	e.user.typeKeys(t, "seq 1 1500000 | tr '\\n' ' ' | fold -w 97; printf '\\e[?1049h\\e[?1049l'; echo\r")
	m = e.user.waitFor(t, m, "1500000")
	e.user.waitFor(t, m, testPrompt)
	if out := e.run("echo after-flood"); !strings.Contains(out, "after-flood") {
		t.Errorf("got %q, want the command to run", out)
	}
	cs := e.inputs()
	if len(cs) != 2 || cs[1] != "echo after-flood => allowed" {
		t.Errorf("got commands %q, want the flood command and echo after-flood", cs)
	}
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Count(string(buf), fn+"(")
}

// An idle session keeps no goroutine for command extraction or for joiners'
// input; both start when there is work and the work is done as before.
func TestIdleSessionHoldsNoWorkerGoroutines(t *testing.T) {
	e := startEnv(t)
	e.run("echo warm")
	eventually(t, "the extractor to go idle", func() bool { return goroutinesIn("term.(*extractWorker).run") == 0 })
	if n := goroutinesIn("term.(*relay).joinPump"); n != 0 {
		t.Errorf("joinPump goroutines before anyone joined: got %d, want 0", n)
	}
	if err := e.live.SendInput(t.Context(), []byte("echo joined-$((6*7))\r")); err != nil {
		t.Fatal(err)
	}
	e.user.waitFor(t, 0, "joined-42")
	if n := goroutinesIn("term.(*relay).joinPump"); n != 1 {
		t.Errorf("joinPump goroutines after a joiner typed: got %d, want 1", n)
	}
	e.run("echo after-join")
	if _, err := e.close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the joiner pump to end", func() bool { return goroutinesIn("term.(*relay).joinPump") == 0 })
	got := e.inputs()
	want := []string{"echo warm => allowed", "echo joined-$((6*7)) => allowed", "echo after-join => allowed"}
	if !equalStrings(got, want) {
		t.Errorf("commands: got %q, want %q", got, want)
	}
}

// eventually retries f until it returns true, for at most waitTimeout.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); !f(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
