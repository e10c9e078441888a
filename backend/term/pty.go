package term

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
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
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("term: open pty: %w", err)
	}
	defer tty.Close()
	// pty.Open leaves the master in blocking mode (it calls Fd), where Close
	// would not interrupt a Read. Re-open the descriptor in non-blocking mode
	// so that os.File hands it to the runtime poller.
	master, err := pollable(ptmx)
	if err != nil {
		ptmx.Close()
		return nil, fmt.Errorf("term: pty: %w", err)
	}
	ptmx.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Cols: uint16(size.Cols), Rows: uint16(size.Rows)}); err != nil {
		master.Close()
		return nil, fmt.Errorf("term: pty size: %w", err)
	}
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

// pollable duplicates f's descriptor, makes the copy non-blocking and wraps it
// in a new *os.File, which the runtime then polls.
func pollable(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	if err := sc.Control(func(raw uintptr) { fd, dupErr = unix.Dup(int(raw)) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("dup: %w", dupErr)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Read reads the program's output. It returns io.EOF when the program and
// every process holding the terminal have exited, or after Close.
func (t *PtyTarget) Read(p []byte) (int, error) {
	n, err := t.master.Read(p)
	if err != nil && n == 0 {
		// Linux reports a hung-up pty master as EIO.
		if errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed) {
			return 0, io.EOF
		}
		return 0, err
	}
	return n, nil
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
	sc, err := t.master.SyscallConn()
	if err != nil {
		return fmt.Errorf("term: resize: %w", err)
	}
	var ioErr error
	ws := &unix.Winsize{Col: uint16(s.Cols), Row: uint16(s.Rows)}
	if err := sc.Control(func(fd uintptr) { ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return fmt.Errorf("term: resize: %w", err)
	}
	if ioErr != nil {
		return fmt.Errorf("term: resize: %w", ioErr)
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
