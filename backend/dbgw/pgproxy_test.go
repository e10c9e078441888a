package dbgw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// The PostgreSQL of the tests trusts every connection from 127.0.0.1, so it
// would never ask psql for the password. pgAuthProxy stands in front of it
// and asks first: it requests the password in the clear, checks it, and only
// then hands the connection to the server (which answers AuthenticationOk,
// what psql expects after its password). A session that logs in through it
// proves that psql sent the injected password.

const (
	pgSSLRequest    = 80877103
	pgGSSENCRequest = 80877104
	pgCancelRequest = 80877102
)

// pgAuthProxy listens on 127.0.0.1:0 until the end of the test.
type pgAuthProxy struct {
	addr     string
	server   string
	user     string
	password string

	mu     sync.Mutex // guards logins
	logins []string   // "ok" or "refused" per password check
}

func startPGAuthProxy(t testing.TB, server, user, password string) *pgAuthProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgAuthProxy{addr: ln.Addr().String(), server: server, user: user, password: password}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if err := p.serve(c); err != nil {
					t.Logf("pg auth proxy: %v", err)
				}
			}()
		}
	}()
	return p
}

func (p *pgAuthProxy) results() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.logins...)
}

// readStartup reads a startup-phase message: length, then body.
func readStartup(r io.Reader) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n < 8 || n > 10000 {
		return nil, fmt.Errorf("bad startup length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, l[:])
	_, err := io.ReadFull(r, msg[4:])
	return msg, err
}

func (p *pgAuthProxy) serve(c net.Conn) error {
	startup, err := readStartup(c)
	if err != nil {
		return err
	}
	for code := binary.BigEndian.Uint32(startup[4:8]); code == pgSSLRequest || code == pgGSSENCRequest; code = binary.BigEndian.Uint32(startup[4:8]) {
		if _, err := c.Write([]byte{'N'}); err != nil {
			return err
		}
		if startup, err = readStartup(c); err != nil {
			return err
		}
	}
	if binary.BigEndian.Uint32(startup[4:8]) != pgCancelRequest {
		user := startupParam(startup, "user")
		// AuthenticationCleartextPassword
		if _, err := c.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}); err != nil {
			return err
		}
		var hdr [5]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if hdr[0] != 'p' || n < 5 || n > 10000 {
			return errors.New("expected a password message")
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(c, body); err != nil {
			return err
		}
		got := string(bytes.TrimSuffix(body, []byte{0}))
		if user != p.user || got != p.password {
			p.record("refused")
			c.Write(pgError("28P01", fmt.Sprintf("password authentication failed for user %q", user)))
			return nil
		}
		p.record("ok")
	}
	up, err := net.Dial("tcp", p.server)
	if err != nil {
		return err
	}
	defer up.Close()
	if _, err := up.Write(startup); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
	return nil
}

func (p *pgAuthProxy) record(s string) {
	p.mu.Lock()
	p.logins = append(p.logins, s)
	p.mu.Unlock()
}

// startupParam returns a parameter of a StartupMessage.
func startupParam(msg []byte, key string) string {
	f := bytes.Split(msg[8:], []byte{0})
	for i := 0; i+1 < len(f); i += 2 {
		if string(f[i]) == key {
			return string(f[i+1])
		}
	}
	return ""
}

// pgError is a FATAL ErrorResponse.
func pgError(code, msg string) []byte {
	var b bytes.Buffer
	for _, f := range []struct {
		t byte
		v string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', code}, {'M', msg}} {
		b.WriteByte(f.t)
		b.WriteString(f.v)
		b.WriteByte(0)
	}
	b.WriteByte(0)
	out := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(b.Len()+4))
	return append(out, b.Bytes()...)
}
