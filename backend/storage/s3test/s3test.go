// Package s3test runs a real S3-compatible server for tests: versitygw with
// its posix backend in a temporary directory, on 127.0.0.1 and a free port,
// with one bucket. A test can kill it (Stop) and start it again on the same
// port and directory (Restart), to see what a client does while its object
// store is down.
//
// The server is the binary bin/versitygw of the module, which
// scripts/setup.sh installs (or $PORTCULLIS_VERSITYGW). When it is missing,
// Start skips the test, or fails it under CI (CI=true), where a skipped test
// would hide a broken setup.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// BinaryEnv names the environment variable that may point at a versitygw
// binary other than <module root>/bin/versitygw.
const BinaryEnv = "PORTCULLIS_VERSITYGW"

// Region is the region the server runs in.
const Region = "us-east-1"

// Server is a running versitygw.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string // random per server
	Bucket    string // created by Start
	Dir       string // the posix backend's root: Dir/Bucket/<key> is an object

	t   testing.TB
	bin string

	mu   sync.Mutex // guards cmd, done and log
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  bytes.Buffer  // the server's output, shown when the test fails
}

// Binary returns the path of the versitygw binary, or "" when none is
// installed.
func Binary() string {
	if p := os.Getenv(BinaryEnv); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return ""
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/portcullis/portcullis\n")) {
			p := filepath.Join(dir, "bin", "versitygw")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Start starts a server with a bucket, stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "bin/versitygw is missing (run scripts/setup.sh or make setup; or set " + BinaryEnv + "): S3 tests need a real S3 server"
		if os.Getenv("CI") == "true" {
			t.Fatal("required test component missing under CI: " + msg)
		}
		t.Skip(msg)
	}
	s := &Server{
		AccessKey: "portcullis-test",
		SecretKey: randomHex(20),
		Bucket:    "recordings",
		Dir:       t.TempDir(),
		t:         t,
		bin:       bin,
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("versitygw output:\n%s", s.log.String())
			s.mu.Unlock()
		}
	})
	var err error
	for range 3 { // the free port may be taken between probe and start
		s.Endpoint = freePort(t)
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("create bucket %s: %v", s.Bucket, err)
	}
	return s
}

// Client returns a minio-go client of the server.
func (s *Server) Client() *minio.Client {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: Region,
	})
	if err != nil {
		s.t.Fatalf("minio client: %v", err)
	}
	return c
}

// Stop kills the server (SIGKILL, as a crash) and waits until it is gone.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts a stopped server again on the same port and directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for range 50 { // the old listener's port may take a moment to free
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("restart versitygw on %s: %v", s.Endpoint, err)
}

// start runs the binary and waits until it answers HTTP.
func (s *Server) start() error {
	cmd := exec.Command(s.bin,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", s.Endpoint, "--region", Region, "--quiet",
		"posix", s.Dir)
	setSysProcAttr(cmd)
	w := &lockedWriter{s: s}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()

	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			return errors.New("versitygw exited at start (see its output)")
		default:
		}
		resp, err := hc.Get("http://" + s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("versitygw not answering on %s: %v", s.Endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// ObjectPath is the file of a key on the server's disk.
func (s *Server) ObjectPath(key string) string {
	return filepath.Join(s.Dir, s.Bucket, filepath.FromSlash(key))
}

type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.log.Len() < 1<<20 {
		w.s.log.Write(p)
	}
	return len(p), nil
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}
