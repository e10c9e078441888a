package term

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/backend/ptyfile"
)

// ptyHangupGrace is how long Close waits for the program to exit after the
// hangup before it kills the program's process group.
const ptyHangupGrace = 2 * time.Second

// PtyTarget is a Target that runs a local program in a pseudo-terminal: the
// database gateway runs its CLI clients this way, and the tests run bash.
//
// The pty master is registered with Go's poller, so Close unblocks a pending
// Read. When the program exits, Read returns io.EOF once the remaining output
// has been read.
type PtyTarget struct {
	cmd    *exec.Cmd
	master *os.File

	exited  chan struct{} // closed when cmd.Wait has returned
	waitErr error         // cmd.Wait's result; read only after exited is closed

	closeOnce sync.Once
	closeErr  error
}

var _ Target = (*PtyTarget)(nil)

// StartPty starts cmd with a new pseudo-terminal of the given size as its
// standard input, output and error, in a new session with the pty as its
// controlling terminal. cmd must not have been started; its Stdin, Stdout,
// Stderr and SysProcAttr are set by StartPty. An invalid size is replaced by
// 80x24 and a huge one clamped.
func StartPty(cmd *exec.Cmd, size Size) (*PtyTarget, error) {
	if cmd == nil {
		return nil, errors.New("term: StartPty: nil command")
	}
	size = normalSize(size)
	master, tty, err := ptyfile.Open(size.Cols, size.Rows)
	if err != nil {
		return nil, fmt.Errorf("term: %w", err)
	}
	defer tty.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, fmt.Errorf("term: start %s: %w", cmd.Path, err)
	}
	t := &PtyTarget{cmd: cmd, master: master, exited: make(chan struct{})}
	go func() {
		t.waitErr = cmd.Wait()
		close(t.exited)
	}()
	return t, nil
}

// Read reads the program's output. It returns io.EOF when the program and
// every process holding the terminal have exited, or after Close.
func (t *PtyTarget) Read(p []byte) (int, error) {
	return ptyfile.Read(t.master, p)
}

// Write sends keystrokes to the program.
func (t *PtyTarget) Write(p []byte) (int, error) {
	return t.master.Write(p)
}

// Resize sets the terminal size; the program receives SIGWINCH. Invalid sizes
// are refused with an error and huge ones clamped.
func (t *PtyTarget) Resize(cols, rows int) error {
	s, ok := Size{Cols: cols, Rows: rows}.Clamp()
	if !ok {
		return fmt.Errorf("term: invalid terminal size %dx%d", cols, rows)
	}
	if err := ptyfile.SetSize(t.master, s.Cols, s.Rows); err != nil {
		return fmt.Errorf("term: %w", err)
	}
	return nil
}

// Close hangs up the terminal: it closes the pty master (the program's session
// receives SIGHUP), sends SIGHUP to the program's process group, waits up to
// two seconds for the program to exit and then kills the process group. It is
// safe to call more than once.
func (t *PtyTarget) Close() error {
	t.closeOnce.Do(func() {
		t.closeErr = t.master.Close()
		pid := t.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGHUP)
		timer := time.NewTimer(ptyHangupGrace)
		defer timer.Stop()
		select {
		case <-t.exited:
		case <-timer.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-t.exited
		}
	})
	return t.closeErr
}

// Wait waits for the program to exit and returns its status as exec.Cmd.Wait
// does. It may be called from several goroutines.
func (t *PtyTarget) Wait() error {
	<-t.exited
	return t.waitErr
}

// Exited is closed when the program has exited.
func (t *PtyTarget) Exited() <-chan struct{} { return t.exited }

// Pid returns the program's process id (also its process group and session id).
func (t *PtyTarget) Pid() int { return t.cmd.Process.Pid }
