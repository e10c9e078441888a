package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// The minimal relay is the floor that x/crypto/ssh sets for any Go bastion:
// an SSH server that accepts anyone, dials the target with x/crypto's client
// (aes128-gcm first, like the gateway's reach.Ciphers) and copies exec and
// shell sessions both ways, with no authentication service, database,
// recording, command parsing or live registry. It runs in its own process,
// like the bastion, so that the figures compare. The table shows it as a
// reference: what is left between it and the bastion is Portcullis' own cost.

// relayProc is the minimal relay running in a child process.
type relayProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	addr string
}

// startRelay runs this binary in relay mode towards the target.
func startRelay(ctx context.Context, t *target, logPath string, env ...string) (*relayProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(exe, "-serve-relay", t.addr(), "-relay-user", t.user, "-relay-key", t.keyPath)
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("relay: start: %w", err)
	}
	r := &relayProc{cmd: cmd, done: make(chan struct{})}
	first := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadBytes('\n')
		var a childAddrs
		if err == nil {
			err = json.Unmarshal(line, &a)
		}
		r.addr = a.SSH
		first <- err
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(r.done)
	}()
	select {
	case err = <-first:
	case <-time.After(20 * time.Second):
		err = errors.New("did not listen within 20s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("relay: %w", err)
	}
	return r, nil
}

func (r *relayProc) pid() int { return r.cmd.Process.Pid }

func (r *relayProc) stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		killTree(r.pid())
		<-r.done
	}
}

// serveRelay is the relay process.
func serveRelay(targetAddr, user, keyPath string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv(relayProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	bufSize, _ := strconv.Atoi(os.Getenv(relayReadBufEnv))
	leanCopies = os.Getenv(relayLeanEnv) != ""
	quickAck := os.Getenv(relayQuickAckEnv) != ""
	keyData, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	key, err := ssh.ParsePrivateKey(keyData)
	if err != nil {
		return err
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return err
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil },
		Config:            ssh.Config{Ciphers: []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherChaCha20Poly1305}},
	}
	cfg.AddHostKey(hostKey)
	upCfg := &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout: 15 * time.Second, Config: ssh.Config{Ciphers: []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherChaCha20Poly1305}},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	if err := json.NewEncoder(os.Stdout).Encode(childAddrs{SSH: ln.Addr().String()}); err != nil {
		return err
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if bufSize > 0 {
			nc = &bufConn{Conn: nc, r: bufio.NewReaderSize(nc, bufSize)}
		}
		if quickAck {
			nc = newQuickAckConn(nc)
		}
		go relayConn(nc, cfg, targetAddr, upCfg, bufSize)
	}
}

// relayConn serves one client connection: one target connection, each
// session channel relayed to a session on it.
func relayConn(nc net.Conn, cfg *ssh.ServerConfig, targetAddr string, upCfg *ssh.ClientConfig, bufSize int) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	tc, err := net.DialTimeout("tcp", targetAddr, 15*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay: dial target:", err)
		return
	}
	if bufSize > 0 {
		tc = &bufConn{Conn: tc, r: bufio.NewReaderSize(tc, bufSize)}
	}
	uc, uchans, ureqs, err := ssh.NewClientConn(tc, targetAddr, upCfg)
	if err != nil {
		tc.Close()
		fmt.Fprintln(os.Stderr, "relay: target handshake:", err)
		return
	}
	up := ssh.NewClient(uc, uchans, ureqs)
	defer up.Close()
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relaySession(up, ch, creqs)
		}()
	}
	wg.Wait()
}

// relaySession forwards pty, window changes, exec and shell to a session on
// the target and copies the data both ways.
func relaySession(up *ssh.Client, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	sess, err := up.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		return
	}
	if leanCopies {
		stdout, err1 := sess.StdoutPipe()
		stderr, err2 := sess.StderrPipe()
		if err1 != nil || err2 != nil {
			return
		}
		go copySmall(ch, stdout)
		go copySmall(ch.Stderr(), stderr)
	} else {
		sess.Stdout, sess.Stderr = ch, ch.Stderr()
	}
	started := make(chan error, 1)
	go func() {
		for r := range reqs {
			ok := false
			switch r.Type {
			case "pty-req":
				var p ptyReq
				if ssh.Unmarshal(r.Payload, &p) == nil {
					ok = sess.RequestPty(p.Term, int(p.Rows), int(p.Cols), ssh.TerminalModes{}) == nil
				}
			case "window-change":
				var w winChange
				if ssh.Unmarshal(r.Payload, &w) == nil {
					ok = sess.WindowChange(int(w.Rows), int(w.Cols)) == nil
				}
			case "exec":
				var s struct{ Command string }
				if ssh.Unmarshal(r.Payload, &s) == nil {
					err := sess.Start(s.Command)
					ok = err == nil
					started <- err
				}
			case "shell":
				err := sess.Shell()
				ok = err == nil
				started <- err
			}
			if r.WantReply {
				r.Reply(ok, nil)
			}
		}
	}()
	if err := <-started; err != nil {
		return
	}
	go func() {
		if leanCopies {
			copySmall(stdin, ch)
		} else {
			io.Copy(stdin, ch)
		}
		stdin.Close()
	}()
	status := 0
	if err := sess.Wait(); err != nil {
		var ee *ssh.ExitError
		status = 255
		if errors.As(err, &ee) {
			status = ee.ExitStatus()
		}
	}
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	ch.CloseWrite()
}

// leanCopies makes the relay copy session data through 2 KiB buffers instead
// of io.Copy's 32 KiB ones (x/crypto's own copies of Session.Stdout and
// Stderr take 32 KiB each per session): the memory floor of idle sessions.
var leanCopies bool

// copySmall copies src to dst through a 2 KiB buffer.
func copySmall(dst io.Writer, src io.Reader) {
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 2<<10))
}

// Experiments on the relay (not on the bastion): a CPU profile of the relay
// process, and a read buffer in front of x/crypto's own 4 KiB one.
const (
	// relayLeanEnv sets leanCopies (the idle sessions' floor).
	relayLeanEnv    = "SSHBENCH_RELAY_LEAN"
	relayProfileEnv = "SSHBENCH_RELAY_CPUPROFILE"
	relayReadBufEnv = "SSHBENCH_RELAY_READBUF"
	// relayQuickAckEnv makes the relay acknowledge what the client sends at
	// once while the handshake runs (TCP_QUICKACK after each read), see
	// quickAckConn.
	relayQuickAckEnv = "SSHBENCH_RELAY_QUICKACK"
)

// quickAckConn re-arms TCP_QUICKACK after each of the first quickAckReads
// reads (handshake, authentication, session set-up and the end of a short
// session). The OpenSSH client leaves Nagle's algorithm on for
// sessions without a pty, so a small packet that follows an unacknowledged
// one waits for the server's ACK; an x/crypto server that has nothing to say
// yet lets the kernel delay that ACK by up to 40 ms. A few such stalls per
// handshake make ssh ... true about 40 ms slower through a Go server than
// direct to sshd.
type quickAckConn struct {
	net.Conn
	raw   syscall.RawConn
	reads atomic.Int32
}

const quickAckReads = 256

func newQuickAckConn(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &quickAckConn{Conn: nc, raw: raw}
	c.quickAck()
	return c
}

func (c *quickAckConn) quickAck() {
	c.raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.reads.Add(1) <= quickAckReads {
		c.quickAck()
	}
	return n, err
}

// bufConn reads its connection through a larger buffer.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type ptyReq struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type winChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}
