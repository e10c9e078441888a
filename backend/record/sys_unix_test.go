//go:build unix

package record_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asciinemaCat runs the real `asciinema cat` on path and returns what it printed.
// asciinema opens /dev/tty, so it runs inside script(1), which gives it a pty, in a
// new session so that it never touches the terminal of whoever runs the tests.
func asciinemaCat(t *testing.T, path string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("asciinema"); err != nil {
		skipUnlessCI(t, "asciinema is not installed (apt-get install asciinema): cannot check playback with the real CLI")
	}
	if _, err := exec.LookPath("script"); err != nil {
		skipUnlessCI(t, "script(1) is not installed (package bsdutils): cannot give asciinema a tty")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", "asciinema cat '"+strings.ReplaceAll(path, "'", `'\''`)+"'", "/dev/null")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// processCPU returns the CPU time the test process used so far, all threads: the
// recorder's cost does not depend on how loaded the machine is, its wall time does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
