package record_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

// crashChildEnv makes the test binary, started again by TestCrashKill9, act as a
// server that records a session until it is killed.
const crashChildEnv = "PORTCULLIS_RECORD_CRASH_CHILD"

// crashFlush is the child's flush interval.
const crashFlush = 100 * time.Millisecond

// crashChild records "line N\r\n" every 2 ms and prints N on stdout once Output
// returned, until it is killed (or its parent is gone: stdout breaks, or a minute
// passed).
func crashChild(path string) {
	time.AfterFunc(time.Minute, func() { os.Exit(3) })
	w, err := record.CreateCast(path, record.Header{Width: 80, Height: 24}, record.CastOptions{FlushInterval: crashFlush})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		w.Output([]byte("line " + strconv.Itoa(i) + "\r\n"))
		fmt.Fprintln(out, i)
		out.Flush()
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCrashKill9 kills a recording process with SIGKILL mid-session: the recording
// reads up to the last flush, Repair makes it a complete gzip file, and the real
// asciinema CLI prints it.
func TestCrashKill9(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process for a few seconds")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "recordings", "2026", "11", "27", "crash.cast.gz")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKill9$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Note when each line was confirmed by the child.
	var mu sync.Mutex
	var confirmed []time.Time
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			confirmed = append(confirmed, time.Now())
			mu.Unlock()
		}
	}()
	eventually(t, "the child to record for 2 s", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed) >= 200 && time.Since(confirmed[0]) > 2*time.Second
	})
	killedAt := time.Now()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()

	// Every line Output more than a flush interval (plus a generous margin for a
	// loaded machine) before the kill must be in the file.
	mu.Lock()
	mustHave := 0
	for _, at := range confirmed {
		if at.Before(killedAt.Add(-crashFlush - time.Second)) {
			mustHave++
		}
	}
	sent := len(confirmed)
	mu.Unlock()

	h, r, err := record.OpenCast(path)
	if err != nil {
		t.Fatalf("OpenCast after kill -9: %v", err)
	}
	if h.Width != 80 || h.Height != 24 {
		t.Errorf("header: got %+v", h)
	}
	var evs []record.Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(evs), err)
		}
		evs = append(evs, ev)
	}
	truncated := r.Truncated()
	r.Close()
	text := outputText(evs)
	lines := strings.Count(text, "\r\n")
	var want strings.Builder
	for i := 0; i < lines; i++ {
		want.WriteString("line " + strconv.Itoa(i) + "\r\n")
	}
	if text != want.String() {
		t.Fatalf("recovered output is not lines 0..%d in order:\n%.300q", lines-1, text)
	}
	if lines < mustHave {
		t.Fatalf("recovered %d lines, want at least the %d confirmed more than %v before the kill", lines, mustHave, crashFlush+time.Second)
	}
	t.Logf("child confirmed %d lines, %d of them well before the kill; recovered %d (stream truncated: %v)", sent, mustHave, lines, truncated)
	if !truncated {
		t.Error("the gzip stream of an active recording should be cut by the kill")
	}
	if gz, err := exec.LookPath("gzip"); err == nil {
		if exec.Command(gz, "-t", path).Run() == nil {
			t.Error("gzip -t accepts the crashed file before Repair")
		}
	}

	if err := record.Repair(path); err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if gz, err := exec.LookPath("gzip"); err == nil {
		if out, err := exec.Command(gz, "-t", path).CombinedOutput(); err != nil {
			t.Fatalf("gzip -t after Repair: %v: %s", err, out)
		}
	}
	_, repaired := readCast(t, path)
	if outputText(repaired) != text {
		t.Fatalf("Repair changed the events: got %d bytes of output, want %d", len(outputText(repaired)), len(text))
	}
	plain := filepath.Join(dir, "crash.cast")
	gunzipFile(t, path, plain)
	out, err := asciinemaCat(t, plain)
	if err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, out)
	}
	last := "line " + strconv.Itoa(lines-1)
	if !strings.Contains(out, "line 0") || !strings.Contains(out, last) {
		t.Fatalf("asciinema cat printed %d bytes without %q and %q", len(out), "line 0", last)
	}
}
