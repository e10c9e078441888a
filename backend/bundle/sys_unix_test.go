//go:build unix

package bundle_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asciinemaCat runs `asciinema cat path` with the real CLI, in a pseudo-terminal made
// by script(1): asciinema 2.2 wants a tty.
func asciinemaCat(t *testing.T, path string) (string, error) {
	t.Helper()
	needTool(t, "asciinema", "asciinema")
	needTool(t, "script", "bsdutils")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", "asciinema cat '"+strings.ReplaceAll(path, "'", `'\''`)+"'", "/dev/null")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
