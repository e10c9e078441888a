package sftpproxy

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/portcullis/portcullis/backend/store"
)

// pipeSession serves SFTP on one end of a pipe and returns a Go SFTP client
// on the other, for tests that need control the OpenSSH client does not
// give (random access, a kill in the middle of a transfer).
func pipeSession(t *testing.T, ctx context.Context, target *targetSSHD, o Options) (*sftp.Client, <-chan error) {
	t.Helper()
	tc, err := target.dial()
	if err != nil {
		t.Fatalf("dial target: %v", err)
	}
	t.Cleanup(func() { _ = tc.Close() })
	user, proxySide := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeSFTP(ctx, proxySide, tc, o) }()
	c, err := sftp.NewClientPipe(user, user)
	if err != nil {
		t.Fatalf("sftp client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, done
}

func TestSFTPNonSequentialWrite(t *testing.T) {
	target := startTargetSSHD(t)
	remote := t.TempDir()
	sink := &memSink{}
	c, done := pipeSession(t, context.Background(), target, Options{Policy: Policy{Upload: true, Download: true}, Sink: sink})

	data := randomBytes(3000, 11)
	f, err := c.OpenFile(remote+"/random.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	// Write the middle first and the beginning twice: the content ends up
	// right, but no single pass covered it.
	for _, w := range []struct{ off, end int }{{1000, 2000}, {0, 1000}, {0, 1000}, {2000, 3000}} {
		if _, err := f.WriteAt(data[w.off:w.end], int64(w.off)); err != nil {
			t.Fatalf("WriteAt %d: %v", w.off, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A sequential read of the same file afterwards has its digest.
	rf, err := c.Open(remote + "/random.bin")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4000)
	n, _ := rf.Read(buf)
	_ = rf.Close()
	if n != len(data) {
		t.Fatalf("read back %d bytes, want %d", n, len(data))
	}
	_ = c.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeSFTP: got %v, want nil", err)
	}
	sameFile(t, filepath.Join(remote, "random.bin"), data)
	checkTransfers(t, withTemplate(sink.Transfers()), []transferKey{
		{store.ActionUpload, remote + "/random.bin", 4000, "", true},
		{store.ActionDownload, remote + "/random.bin", 3000, sum(data), true},
	})
}

// withTemplate fills the identity fields of records made without a template,
// for checkTransfers.
func withTemplate(ts []store.FileTransfer) []store.FileTransfer {
	for i := range ts {
		id := testTemplate
		id.Direction, id.Path, id.Size, id.SHA256, id.Allowed, id.CreatedAt = ts[i].Direction, ts[i].Path, ts[i].Size, ts[i].SHA256, ts[i].Allowed, ts[i].CreatedAt
		ts[i] = id
	}
	return ts
}

func TestSFTPKilledMidTransfer(t *testing.T) {
	target := startTargetSSHD(t)
	remote := t.TempDir()
	sink := &memSink{}
	ctx, kill := context.WithCancelCause(context.Background())
	defer kill(nil)
	c, done := pipeSession(t, ctx, target, Options{Policy: Policy{Upload: true}, Sink: sink, Template: testTemplate})

	f, err := c.OpenFile(remote+"/partial.bin", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	part := randomBytes(100<<10, 12)
	if _, err := f.Write(part); err != nil {
		t.Fatal(err)
	}
	errKilled := errors.New("killed by an admin")
	kill(errKilled)
	select {
	case err := <-done:
		if !errors.Is(err, errKilled) {
			t.Errorf("ServeSFTP: got %v, want the kill's cause", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ServeSFTP did not return after its context ended")
	}
	checkTransfers(t, sink.Transfers(), []transferKey{
		{store.ActionUpload, remote + "/partial.bin", int64(len(part)), sum(part), true},
	})
}

func TestSFTPNewFileMode(t *testing.T) {
	target := startTargetSSHD(t)
	h := newHarness(t, target, Options{Policy: Policy{Upload: true}})
	local, remote := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(local, "run.sh"), []byte("#!/bin/sh\n"))
	if err := os.Chmod(filepath.Join(local, "run.sh"), 0o775); err != nil {
		t.Fatal(err)
	}
	if out, err := h.sftp(t, "put "+filepath.Join(local, "run.sh")+" "+remote+"/run.sh\n"); err != nil {
		t.Fatalf("sftp put: %v\n%s", err, out)
	}
	fi, err := os.Stat(filepath.Join(remote, "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o755); got != want {
		t.Errorf("mode of a new file: got %v, want %v (the client's 0775 under umask 022)", got, want)
	}
}
