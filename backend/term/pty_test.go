package term

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// ptyReader collects what a PtyTarget outputs, for tests.
type ptyReader struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	err  error
	done chan struct{}
}

func readAll(t *testing.T, r io.Reader) *ptyReader {
	t.Helper()
	pr := &ptyReader{done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			pr.mu.Lock()
			pr.buf.Write(b[:n])
			if err != nil {
				pr.err = err
			}
			pr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return pr
}

func (pr *ptyReader) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pr.mu.Lock()
		ok := strings.Contains(pr.buf.String(), s)
		pr.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	t.Fatalf("got output %q, want it to contain %q", pr.buf.String(), s)
}

func TestPtyTarget(t *testing.T) {
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	cmd.Env = []string{"PS1=pty$ ", "TERM=xterm", "PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	tg, err := StartPty(cmd, Size{Cols: 77, Rows: 19})
	if err != nil {
		t.Fatalf("StartPty: %v", err)
	}
	t.Cleanup(func() { tg.Close() })
	out := readAll(t, tg)
	out.waitFor(t, "pty$ ")

	if _, err := tg.Write([]byte("stty size\r")); err != nil {
		t.Fatalf("write: %v", err)
	}
	out.waitFor(t, "19 77")

	tests := []struct {
		cols, rows int
		want       string
		wantErr    bool
	}{
		{100, 40, "40 100", false},
		{5000, 99999, "1000 1000", false},
		{0, 10, "", true},
	}
	for _, tt := range tests {
		err := tg.Resize(tt.cols, tt.rows)
		if (err != nil) != tt.wantErr {
			t.Fatalf("Resize(%d, %d): got error %v, want error %v", tt.cols, tt.rows, err, tt.wantErr)
		}
		if tt.wantErr {
			continue
		}
		tg.Write([]byte("stty size\r"))
		out.waitFor(t, tt.want)
	}

	tg.Write([]byte("exit 3\r"))
	select {
	case <-out.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF after exit")
	}
	if !errors.Is(out.err, io.EOF) {
		t.Errorf("got read error %v, want io.EOF", out.err)
	}
	var ee *exec.ExitError
	if err := tg.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("got Wait %v, want exit status 3", err)
	}
	if err := tg.Close(); err != nil {
		t.Errorf("Close after exit: got %v, want nil", err)
	}
}

// TestPtyTargetCloseUnblocksRead proves that Close interrupts a pending Read
// and ends a program that ignores the hangup.
func TestPtyTargetCloseUnblocksRead(t *testing.T) {
	cmd := exec.Command("sh", "-c", "trap '' HUP; echo ready; sleep 60")
	tg, err := StartPty(cmd, Size{})
	if err != nil {
		t.Fatalf("StartPty: %v", err)
	}
	out := readAll(t, tg)
	out.waitFor(t, "ready")
	start := time.Now()
	if err := tg.Close(); err != nil {
		t.Errorf("Close: got %v, want nil", err)
	}
	select {
	case <-out.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	select {
	case <-tg.Exited():
	default:
		t.Error("program still running after Close")
	}
	if d := time.Since(start); d > ptyHangupGrace+2*time.Second {
		t.Errorf("Close took %v, want at most about %v", d, ptyHangupGrace)
	}
}
