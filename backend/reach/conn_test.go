package reach

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// noDeadlineConn is a connection without deadlines, like x/crypto's channels.
type noDeadlineConn struct{ net.Conn }

func (noDeadlineConn) SetDeadline(time.Time) error      { return errors.New("deadline not supported") }
func (noDeadlineConn) SetReadDeadline(time.Time) error  { return errors.New("deadline not supported") }
func (noDeadlineConn) SetWriteDeadline(time.Time) error { return errors.New("deadline not supported") }

func pipePair(t *testing.T) (*deadlineConn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	c := withDeadlines(noDeadlineConn{a}, hopAddr("10.0.0.5:22"))
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, b
}

func TestDeadlineConnRead(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // from now; 0 = none
		peer     string        // written by the peer after 50ms ("" = nothing)
		wantErr  error
		wantData string
	}{
		{"data before the deadline", time.Second, "hello", nil, "hello"},
		{"deadline passes first", 100 * time.Millisecond, "", os.ErrDeadlineExceeded, ""},
		{"deadline already past", -time.Second, "", os.ErrDeadlineExceeded, ""},
		{"no deadline", 0, "late", nil, "late"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := pipePair(t)
			if tt.deadline != 0 {
				c.SetReadDeadline(time.Now().Add(tt.deadline))
			}
			if tt.peer != "" {
				go func() {
					time.Sleep(50 * time.Millisecond)
					peer.Write([]byte(tt.peer))
				}()
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("got %v, want a net.Error with Timeout()", err)
				}
			}
			if got := string(buf[:n]); got != tt.wantData {
				t.Errorf("got %q, want %q", got, tt.wantData)
			}
		})
	}
}

func TestDeadlineConnExtendedDeadlineReadsLaterData(t *testing.T) {
	c, peer := pipePair(t)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	go peer.Write([]byte("after"))
	buf := make([]byte, 8)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "after" {
		t.Errorf("got %q, %v, want after", buf[:n], err)
	}
}

func TestDeadlineConnCloseWakesRead(t *testing.T) {
	c, _ := pipePair(t)
	done := make(chan error)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("got %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
}

func TestDeadlineConnWriteDeadlineClosesAStuckWrite(t *testing.T) {
	c, _ := pipePair(t) // the peer never reads: net.Pipe writes block
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := c.Write([]byte("stuck"))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got %v, want a timeout", err)
	}
}

func TestDeadlineConnCarriesBytesAndEOF(t *testing.T) {
	c, peer := pipePair(t)
	data := make([]byte, 1<<20)
	rand.Read(data)
	go func() {
		peer.Write(data)
		peer.Close()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("got %d bytes, want the %d bytes sent", len(got), len(data))
	}
	if got, want := c.RemoteAddr().String(), "10.0.0.5:22"; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
