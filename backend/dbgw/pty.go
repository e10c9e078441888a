package dbgw

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// maxTermSize bounds the terminal sizes passed to the kernel.
const maxTermSize = 10000

// openPty opens a pseudo-terminal of the given size. The master is
// non-blocking and registered with Go's poller, so that closing it unblocks a
// pending Read; the caller gives tty to the program and closes its own copy.
func openPty(cols, rows int) (master, tty *os.File, err error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("dbgw: open pty: %w", err)
	}
	// pty.Open leaves the master blocking (it called Fd), where Close would
	// not interrupt a Read: use a non-blocking duplicate instead.
	master, err = pollable(ptmx)
	ptmx.Close()
	if err != nil {
		tty.Close()
		return nil, nil, fmt.Errorf("dbgw: pty: %w", err)
	}
	if err := pty.Setsize(tty, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		master.Close()
		tty.Close()
		return nil, nil, fmt.Errorf("dbgw: pty size: %w", err)
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

// setSize sets the window size of the pty behind master.
func setSize(master *os.File, cols, rows int) error {
	sc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	ws := &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}
	if err := sc.Control(func(fd uintptr) { ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	return ioErr
}

// ptyRead reads from a pty master and turns the end of the terminal into
// io.EOF: Linux reports a master whose other side is gone as EIO.
func ptyRead(master *os.File, p []byte) (int, error) {
	n, err := master.Read(p)
	if err != nil && n == 0 {
		if errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed) {
			return 0, io.EOF
		}
		return 0, err
	}
	return n, nil
}

// normalSize replaces an invalid terminal size by 80x24 and clamps a huge one.
func normalSize(cols, rows int) (int, int) {
	if cols <= 0 || rows <= 0 {
		return 80, 24
	}
	return min(cols, maxTermSize), min(rows, maxTermSize)
}
