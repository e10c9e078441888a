package session_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/x/vt"

	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestSlowWatcherIsDroppedWhileFastOneKeepsReceiving(t *testing.T) {
	const buffer = 8
	r, _ := newRegistry(t, storetest.SQLite(t), "n", session.WithWatchBuffer(buffer))
	l := start(t, r, testMeta())
	fast, cancelFast := l.Watch()
	defer cancelFast()
	slow, cancelSlow := l.Watch()
	defer cancelSlow()
	for _, ch := range []<-chan record.Event{fast, slow} {
		for _, kind := range []string{"r", "o"} { // size and snapshot
			if ev, _ := recv(t, ch); ev.Kind != kind {
				t.Fatalf("initial event: got %q, want %q", ev.Kind, kind)
			}
		}
	}
	const chunks = 100
	for i := range chunks {
		// Output never waits for a watcher: the slow one reads nothing.
		l.Output(fmt.Appendf(nil, "line %d\r\n", i))
		ev, ok := recv(t, fast)
		if want := fmt.Sprintf("line %d\r\n", i); !ok || ev.Kind != "o" || ev.Data != want {
			t.Fatalf("fast watcher, chunk %d: got %+v (open %v), want %q", i, ev, ok, want)
		}
	}
	got := 0
	for range slow {
		got++
	}
	if got > buffer+4 {
		t.Fatalf("slow watcher got %d events before being dropped, want at most %d", got, buffer+4)
	}
	if st := l.Stats(); st.Watchers != 1 {
		t.Fatalf("watchers after the drop: got %d, want 1", st.Watchers)
	}
	if isClosed(l.Done()) {
		t.Fatal("dropping a watcher ended the session")
	}
	l.Resize(120, 40)
	if ev, _ := recv(t, fast); ev.Kind != "r" || ev.Data != "120x40" {
		t.Fatalf("resize event: got %+v, want r 120x40", ev)
	}
	l.End(t.Context(), "")
	if _, ok := recv(t, fast); ok {
		t.Fatal("the watcher channel is open after End")
	}
	ended, cancel := l.Watch()
	defer cancel()
	if _, ok := recv(t, ended); ok {
		t.Fatal("watching an ended session gave an open channel")
	}
}

// screenOf paints the snapshot events on a fresh emulator and returns its text.
func screenOf(t *testing.T, evs []record.Event) string {
	t.Helper()
	var cols, rows int
	if _, err := fmt.Sscanf(evs[0].Data, "%dx%d", &cols, &rows); err != nil || evs[0].Kind != "r" {
		t.Fatalf("first event: got %+v, want the size", evs[0])
	}
	e := vt.NewEmulator(cols, rows)
	go io.Copy(io.Discard, e)
	defer e.InputPipe().(*io.PipeWriter).Close()
	for _, ev := range evs[1:] {
		e.WriteString(ev.Data)
	}
	return e.String()
}

func TestLateWatcherFirstGetsTheScreen(t *testing.T) {
	tests := []struct {
		name   string
		ring   int
		output []string
		want   string // screen text
		absent string
	}{
		{
			name:   "shell lines",
			ring:   4096,
			output: []string{"Welcome to web01\r\n", "$ ls\r\n", "file1  file2\r\n", "$ "},
			want:   "Welcome to web01\n$ ls\nfile1  file2\n$",
		},
		{
			name:   "full-screen program redraws",
			ring:   4096,
			output: []string{"old text\r\n", "\x1b[2J\x1b[H", "top - 10:00:00 up 1 day", "\x1b[3;1Hload average: 0.00"},
			want:   "top - 10:00:00 up 1 day\n\nload average: 0.00",
			absent: "old text",
		},
		{
			name:   "older output dropped from the ring",
			ring:   1024,
			output: append(lines(200), "$ "),
			want:   strings.Join(lines(200)[177:], "") + "$",
			absent: "line 150",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newRegistry(t, storetest.SQLite(t), "n", session.WithRingSize(tt.ring))
			l := start(t, r, testMeta())
			for _, o := range tt.output {
				l.Output([]byte(o))
			}
			ch, cancel := l.Watch()
			defer cancel()
			var evs []record.Event
			for len(ch) > 0 {
				ev, _ := recv(t, ch)
				evs = append(evs, ev)
			}
			got := screenOf(t, evs)
			want := strings.ReplaceAll(tt.want, "\r\n", "\n")
			if strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Fatalf("screen:\ngot  %q\nwant %q", got, want)
			}
			if tt.absent != "" && strings.Contains(got, tt.absent) {
				t.Fatalf("screen shows %q, which was overwritten", tt.absent)
			}
			// Output after the snapshot follows it.
			l.Output([]byte("next"))
			if ev, _ := recv(t, ch); ev.Data != "next" {
				t.Fatalf("after the snapshot: got %+v, want next", ev)
			}
		})
	}
}

func lines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d\r\n", i)
	}
	return out
}
