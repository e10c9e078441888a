package s3test

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr kills the server with the test binary, should it die first.
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
