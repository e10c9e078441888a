package sshgw_test

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestIdleSessionMemory opens PCGW_IDLE_SESSIONS idle shells through the
// gateway and reports the memory they hold (gateway and x/crypto clients
// together, both in this process: an upper bound for the gateway). It is
// opt-in: the benchmark suite measures this properly.
func TestIdleSessionMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PCGW_IDLE_SESSIONS"))
	if n <= 0 {
		t.Skip("set PCGW_IDLE_SESSIONS=N to measure N idle sessions")
	}
	if os.Getenv("PCGW_HEAP_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	needTarget(t)
	g := newGW(t)
	g.standard()
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	before := measure()
	var clients []*ssh.Client
	for i := range n {
		c, err := rawClient(g, "alice@web01", testPassword)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		clients = append(clients, c)
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.RequestPty("xterm", 24, 80, ssh.TerminalModes{})
		out, _ := s.StdoutPipe()
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		out.Read(buf) // the prompt: the session is up
		go func() {
			for {
				if _, err := out.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	after := measure()
	if path := os.Getenv("PCGW_HEAP_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	t.Logf("%d idle sessions: %d KiB each (gateway + clients)", n, (after-before)/uint64(n)/1024)
	for _, c := range clients {
		c.Close()
	}
}
