// Package ptyfile opens pseudo-terminals whose master side is registered with
// Go's runtime poller, so that closing the master unblocks a pending Read,
// and reads, resizes and ends them the way a relay needs: term runs local
// programs (bash in its tests) and dbgw the database clients this way.
package ptyfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Open opens a pseudo-terminal of cols x rows. The caller gives tty to the
// program (as its stdin, stdout, stderr and controlling terminal) and closes
// its own copy once the program started; master is non-blocking and polled.
func Open(cols, rows int) (master, tty *os.File, err error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("ptyfile: open: %w", err)
	}
	// pty.Open leaves the master in blocking mode (it calls Fd), where Close
	// would not interrupt a Read: use a non-blocking duplicate instead, which
	// os.File hands to the runtime poller.
	master, err = pollable(ptmx)
	ptmx.Close()
	if err != nil {
		tty.Close()
		return nil, nil, fmt.Errorf("ptyfile: %w", err)
	}
	if err := pty.Setsize(tty, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		master.Close()
		tty.Close()
		return nil, nil, fmt.Errorf("ptyfile: size: %w", err)
	}
	return master, tty, nil
}

// pollable duplicates f's descriptor as a non-blocking *os.File.
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

// SetSize sets the window size of the pty behind master; the program gets
// SIGWINCH.
func SetSize(master *os.File, cols, rows int) error {
	sc, err := master.SyscallConn()
	if err != nil {
		return fmt.Errorf("ptyfile: resize: %w", err)
	}
	var ioErr error
	ws := &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}
	if err := sc.Control(func(fd uintptr) { ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return fmt.Errorf("ptyfile: resize: %w", err)
	}
	if ioErr != nil {
		return fmt.Errorf("ptyfile: resize: %w", ioErr)
	}
	return nil
}

// Read reads from a pty master and turns the end of the terminal into
// io.EOF: Linux reports a master whose other side is gone as EIO, and a
// closed master ends a pending Read with os.ErrClosed.
func Read(master *os.File, p []byte) (int, error) {
	n, err := master.Read(p)
	if err != nil && n == 0 {
		if errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed) {
			return 0, io.EOF
		}
		return 0, err
	}
	return n, nil
}
