package guacgw_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/guacgw"
)

func TestRecordingWriterFlushesWithoutClose(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "s.guac")
	w, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	want := "4.size,1.0,4.1024,3.768;4.sync,13.1700000000000;"
	if _, err := w.Write([]byte(want)); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, path, len(want))
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Errorf("got %q", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// waitForFile waits until path has at least n bytes.
func waitForFile(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() >= int64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %d bytes", path, n)
		}
		time.Sleep(5 * time.Millisecond) // polling the file system, not synchronisation
	}
}

func TestRecordingWriterBufferLimit(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "s.guac")
	// An hour between flushes: only the buffer limit writes.
	w, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{FlushInterval: time.Hour, BufferLimit: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	in := []byte(guacgw.NewInstruction("blob", "1", strings.Repeat("A", 120)).String())
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(in) {
		t.Errorf("got %d bytes, want %d at once", len(got), len(in))
	}
}

func TestRecordingWriterRefusesExistingFileAndClosedWrites(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "s.guac")
	w, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{}); err == nil {
		t.Error("an existing recording was opened again")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("3.nop;")); !errors.Is(err, guacgw.ErrRecordingClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func TestRepairRecording(t *testing.T) {
	const whole = "4.size,1.0,4.1024,3.768;4.sync,13.1700000000000;"
	tests := []struct {
		name    string
		content string
		cut     int64
		err     error
	}{
		{"whole", whole, 0, nil},
		{"empty", "", 0, nil},
		{"partial instruction", whole + "4.blob,1.1,100.QUJD", 19, nil},
		{"partial length prefix", whole + "4.bl", 4, nil},
		{"partial multi-byte character", whole + "4.name,2.\xe6\xa1", 11, nil},
		{"NUL tail after a power loss", whole + "\x00\x00\x00\x00", 4, nil},
		{"partial and NUL tail", whole + "4.syn\x00\x00", 7, nil},
		{"garbage in the middle", "4.sync,1.1;garbage;" + whole, 0, guacgw.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.guac")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			cut, err := guacgw.RepairRecording(path)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) || cut != tt.cut {
				t.Fatalf("got %d, %v; want %d, %v", cut, err, tt.cut, tt.err)
			}
			got, _ := os.ReadFile(path)
			want := tt.content[:int64(len(tt.content))-tt.cut]
			if string(got) != want {
				t.Errorf("file is %q, want %q", got, want)
			}
			if tt.err == nil {
				readRecording(t, path)
			}
		})
	}
}

// TestRecordingSurvivesKill kills a process that is writing a recording
// with SIGKILL: everything it wrote more than a flush interval before dies
// with it on disk, and RepairRecording makes a torn end whole.
func TestRecordingSurvivesKill(t *testing.T) {
	if path := os.Getenv("GUACGW_RECORDING_CHILD"); path != "" {
		recordingChild(path)
		return
	}
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), "s.guac")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecordingSurvivesKill$")
	cmd.Env = append(os.Environ(), "GUACGW_RECORDING_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var size int
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "wrote "); ok {
			size, _ = strconv.Atoi(n)
			break
		}
	}
	if size == 0 {
		t.Fatal("the child did not write")
	}
	// The child never closes its recording; its flusher puts the data in
	// the file within the flush interval.
	waitForFile(t, path, size)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// A write that a crash tore in two.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "4.blob,1.1,8064.QUJDRE")
	f.Close()
	cut, err := guacgw.RepairRecording(path)
	if err != nil || cut != 22 {
		t.Fatalf("repair: cut %d, %v", cut, err)
	}
	ins := readRecording(t, path)
	if len(ins) != 1000 || ins[999].Args[0] != "999" {
		t.Errorf("recording holds %d instructions", len(ins))
	}
}

func recordingChild(path string) {
	w, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	size := 0
	for i := range 1000 {
		in := guacgw.NewInstruction("sync", strconv.Itoa(i)).Append(nil)
		size += len(in)
		if _, err := w.Write(in); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	}
	fmt.Printf("wrote %d\n", size)
	select {} // until killed
}
