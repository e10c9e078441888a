package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/storage/s3test"
)

// faultyBackend wraps a real Backend with injected faults.
type faultyBackend struct {
	Backend
	mu        sync.Mutex
	putErr    error         // returned by Put instead of storing
	statDelta int64         // added to the sizes Stat returns: a store that lies
	gate      chan struct{} // when set, Put waits until it is closed
	puts      atomic.Int32
}

func (f *faultyBackend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	f.puts.Add(1)
	f.mu.Lock()
	err, gate := f.putErr, f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return err
	}
	return f.Backend.Put(ctx, key, r, size)
}

func (f *faultyBackend) Stat(ctx context.Context, key string) (int64, error) {
	n, err := f.Backend.Stat(ctx, key)
	f.mu.Lock()
	defer f.mu.Unlock()
	return n + f.statDelta, err
}

func (f *faultyBackend) set(fn func(f *faultyBackend)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// localRemote is a faultyBackend on a Local directory, for tests of the
// Uploader's own logic.
func localRemote(t *testing.T) *faultyBackend {
	t.Helper()
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &faultyBackend{Backend: l}
}

// uploaderEnv is an Uploader's directories.
type uploaderEnv struct {
	local, queue string
}

func newEnv(t *testing.T) uploaderEnv {
	return uploaderEnv{local: t.TempDir(), queue: filepath.Join(t.TempDir(), "upload-queue")}
}

func (e uploaderEnv) config(remote Backend) UploaderConfig {
	return UploaderConfig{
		LocalDir: e.local, QueueDir: e.queue, Remote: remote, KeepLocal: true,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
}

// queueFiles lists the pending entries on disk.
func (e uploaderEnv) queueFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(e.queue, "*"+queueExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newUploader(t *testing.T, cfg UploaderConfig) *Uploader {
	t.Helper()
	u, err := NewUploader(cfg)
	if err != nil {
		t.Fatalf("NewUploader: %v", err)
	}
	return u
}

// run runs u until the returned stop is called (or the test ends); stop
// waits for Run to return and checks that it returned nil.
func run(t *testing.T, u *Uploader) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context was canceled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func enqueue(t *testing.T, u *Uploader, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := u.Enqueue(k); err != nil {
			t.Fatalf("Enqueue %s: %v", k, err)
		}
	}
}

func drained(u *Uploader) func() bool {
	return func() bool { return u.Backlog().Pending == 0 }
}

func failing(u *Uploader) func() bool {
	return func() bool { return u.Backlog().Failing }
}

func TestUploaderUploads(t *testing.T) {
	srv := s3test.Start(t)
	remote := newS3(t, srv, "")
	env := newEnv(t)
	files := map[string]int64{
		"2026/11/28/a.cast.gz":     100,
		"2026/11/28/b.guac":        3 << 20,
		"2026/11/29/c.cast.gz":     20 << 20, // in parts
		"2026/11/29/c.cast.gz.idx": 0,
	}
	digests := map[string]string{}
	var total int64
	for k, n := range files {
		digests[k] = writeRecording(t, env.local, k, n, uint64(n))
		total += n
	}
	var mu sync.Mutex
	var hooked []string
	cfg := env.config(remote)
	cfg.OnUploaded = func(key string) {
		mu.Lock()
		hooked = append(hooked, key)
		mu.Unlock()
	}
	u := newUploader(t, cfg)
	for k := range files {
		enqueue(t, u, k)
	}
	if b := u.Backlog(); b.Pending != len(files) || b.PendingBytes != total {
		t.Fatalf("Backlog before Run: %d pending, %d bytes; want %d, %d", b.Pending, b.PendingBytes, len(files), total)
	}
	if got := len(env.queueFiles(t)); got != len(files) {
		t.Fatalf("%d queue files, want %d", got, len(files))
	}
	start := time.Now()
	run(t, u)
	waitFor(t, 30*time.Second, "the uploads", drained(u))
	t.Logf("uploaded %d files, %.1f MiB, in %v", len(files), float64(total)/(1<<20), time.Since(start).Round(time.Millisecond))

	for k, want := range digests {
		if got := backendDigest(t, remote, k); got != want {
			t.Errorf("%s: remote content differs", k)
		}
		if _, err := os.Stat(filepath.Join(env.local, k)); err != nil {
			t.Errorf("%s: local copy gone with KeepLocal: %v", k, err)
		}
	}
	b := u.Backlog()
	if b.Uploaded != int64(len(files)) || b.Failing || b.LastError != "" || b.LastSuccess.IsZero() || b.PendingBytes != 0 || !b.NextAttempt.IsZero() {
		t.Errorf("Backlog after the uploads: %+v", b)
	}
	if q := env.queueFiles(t); len(q) != 0 {
		t.Errorf("queue files left: %v", q)
	}
	mu.Lock()
	slices.Sort(hooked)
	want := slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(hooked, want) {
		t.Errorf("OnUploaded got %v, want %v", hooked, want)
	}
	mu.Unlock()
	if objs := incompleteUploads(t, srv); len(objs) != 0 {
		t.Errorf("incomplete multipart uploads left in the bucket: %v", objs)
	}
}

// incompleteUploads lists the multipart uploads begun and never completed.
func incompleteUploads(t *testing.T, srv *s3test.Server) []string {
	t.Helper()
	var keys []string
	for u := range srv.Client().ListIncompleteUploads(context.Background(), srv.Bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads: %v", u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys
}

func TestUploaderServerDown(t *testing.T) {
	srv := s3test.Start(t)
	remote := newS3(t, srv, "")
	env := newEnv(t)
	clock := newTestClock()
	key := "2026/11/28/down.cast.gz"
	want := writeRecording(t, env.local, key, 1<<20, 1)
	cfg := env.config(remote)
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Clock = time.Second, time.Minute, clock.Now
	u := newUploader(t, cfg)

	srv.Stop()
	enqueue(t, u, key)
	run(t, u)
	waitFor(t, 10*time.Second, "the first failure", failing(u))
	b := u.Backlog()
	if b.Pending != 1 || b.PendingBytes != 1<<20 || !strings.Contains(b.LastError, "connection refused") {
		t.Fatalf("Backlog with the server down: %+v", b)
	}
	if strings.Contains(b.LastError, srv.SecretKey) {
		t.Fatalf("LastError shows the secret key: %q", b.LastError)
	}
	if d := b.NextAttempt.Sub(clock.Now()); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("first retry in %v, want 0.5s to 1s", d)
	}
	if len(env.queueFiles(t)) != 1 {
		t.Fatal("the queue file is gone while the upload is pending")
	}

	// The backoff passes with the server still down: a second failure.
	clock.Advance(time.Second)
	u.wake()
	// Due, NextAttempt is now; in flight, zero; failed again, in the future.
	waitFor(t, 10*time.Second, "the second failure", func() bool { return u.Backlog().NextAttempt.After(clock.Now()) })
	if d := u.Backlog().NextAttempt.Sub(clock.Now()); d < time.Second || d > 2*time.Second {
		t.Errorf("second retry in %v, want 1s to 2s", d)
	}

	// Back up: the next attempt (when the backoff has passed) succeeds.
	srv.Restart()
	clock.Advance(2 * time.Second)
	u.wake()
	waitFor(t, 10*time.Second, "the upload after the restart", drained(u))
	if got := backendDigest(t, remote, key); got != want {
		t.Fatal("remote content differs")
	}
	if b := u.Backlog(); b.Failing || b.LastError != "" || b.Uploaded != 1 {
		t.Fatalf("Backlog after recovery: %+v", b)
	}
}

func TestUploaderServerKilledMidUpload(t *testing.T) {
	srv := s3test.Start(t)
	remote := newS3(t, srv, "")
	env := newEnv(t)
	clock := newTestClock()
	key := "2026/11/28/killed.cast.gz"
	const size = 64 << 20
	want := writeRecording(t, env.local, key, size, 2)
	cfg := env.config(remote)
	cfg.Clock = clock.Now
	cfg.MinBackoff = time.Hour // only Kick retries
	u := newUploader(t, cfg)
	var killed atomic.Bool
	u.progress = func(k string, read int64) {
		if read >= 8<<20 && killed.CompareAndSwap(false, true) {
			srv.Stop()
		}
	}
	enqueue(t, u, key)
	run(t, u)
	waitFor(t, 20*time.Second, "the failure of the cut upload", failing(u))
	if !killed.Load() {
		t.Fatal("the upload failed before the server was killed")
	}
	b := u.Backlog()
	t.Logf("Backlog after the kill: pending %d (%d bytes), error %q", b.Pending, b.PendingBytes, b.LastError)
	if b.Pending != 1 || b.LastError == "" {
		t.Fatalf("Backlog after the kill: %+v", b)
	}
	if _, err := remote.Stat(context.Background(), key); err == nil {
		t.Fatal("the cut upload is visible on the server")
	}
	if d, _ := digest(t, mustOpen(t, filepath.Join(env.local, key))); d != want {
		t.Fatal("the local recording changed")
	}

	srv.Restart()
	t.Logf("multipart uploads left by the cut upload: %v", incompleteUploads(t, srv))
	u.progress = nil
	u.Kick()
	waitFor(t, 30*time.Second, "the upload after the restart", drained(u))
	if got := backendDigest(t, remote, key); got != want {
		t.Fatal("remote content differs from the recording")
	}
	if objs := incompleteUploads(t, srv); len(objs) != 0 {
		t.Errorf("parts of the cut upload left in the bucket: %v", objs)
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestUploaderResumesAfterRestart(t *testing.T) {
	srv := s3test.Start(t)
	remote := newS3(t, srv, "")
	env := newEnv(t)
	keys := []string{"2026/11/28/r1.cast.gz", "2026/11/28/r2.guac"}
	digests := map[string]string{}
	for i, k := range keys {
		digests[k] = writeRecording(t, env.local, k, 200<<10, uint64(i))
	}
	cfg := env.config(remote)
	cfg.MinBackoff = time.Hour

	srv.Stop()
	first := newUploader(t, cfg)
	enqueue(t, first, keys...)
	stop := run(t, first)
	waitFor(t, 10*time.Second, "the failure", failing(first))
	stop() // the server process goes away with its queue

	srv.Restart()
	second := newUploader(t, cfg)
	if b := second.Backlog(); b.Pending != 2 || b.PendingBytes != 2*200<<10 {
		t.Fatalf("Backlog of the new Uploader before Run: %+v, want 2 pending", b)
	}
	run(t, second)
	waitFor(t, 10*time.Second, "the resumed uploads", drained(second))
	for k, want := range digests {
		if got := backendDigest(t, remote, k); got != want {
			t.Errorf("%s: remote content differs", k)
		}
	}
	if b := second.Backlog(); b.Uploaded != 2 {
		t.Errorf("Uploaded = %d, want 2", b.Uploaded)
	}
	if q := env.queueFiles(t); len(q) != 0 {
		t.Errorf("queue files left: %v", q)
	}
}

func TestUploaderKeepLocalFalse(t *testing.T) {
	srv := s3test.Start(t)
	remote := newS3(t, srv, "")

	t.Run("deleted after a verified upload", func(t *testing.T) {
		env := newEnv(t)
		key := "2026/11/28/gone.cast.gz"
		want := writeRecording(t, env.local, key, 1<<20, 3)
		cfg := env.config(remote)
		cfg.KeepLocal = false
		u := newUploader(t, cfg)
		enqueue(t, u, key)
		run(t, u)
		waitFor(t, 10*time.Second, "the upload", drained(u))
		if _, err := os.Stat(filepath.Join(env.local, key)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("local copy after the upload: %v, want it deleted", err)
		}
		if got := backendDigest(t, remote, key); got != want {
			t.Fatal("remote content differs")
		}
	})

	t.Run("kept while the store is down", func(t *testing.T) {
		env := newEnv(t)
		key := "2026/11/28/kept.cast.gz"
		writeRecording(t, env.local, key, 1<<20, 4)
		cfg := env.config(remote)
		cfg.KeepLocal, cfg.MinBackoff = false, time.Hour
		u := newUploader(t, cfg)
		srv.Stop()
		enqueue(t, u, key)
		run(t, u)
		waitFor(t, 10*time.Second, "the failure", failing(u))
		if _, err := os.Stat(filepath.Join(env.local, key)); err != nil {
			t.Fatalf("local copy deleted while the store is down: %v", err)
		}
		srv.Restart()
		u.Kick()
		waitFor(t, 10*time.Second, "the upload", drained(u))
		if _, err := os.Stat(filepath.Join(env.local, key)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("local copy after the upload: %v, want it deleted", err)
		}
	})

	t.Run("kept when the remote size differs", func(t *testing.T) {
		env := newEnv(t)
		key := "2026/11/28/mismatch.cast.gz"
		writeRecording(t, env.local, key, 1<<20, 5)
		lying := &faultyBackend{Backend: remote, statDelta: -1}
		cfg := env.config(lying)
		cfg.KeepLocal, cfg.MinBackoff = false, time.Hour
		u := newUploader(t, cfg)
		enqueue(t, u, key)
		run(t, u)
		waitFor(t, 10*time.Second, "the failed verification", failing(u))
		if b := u.Backlog(); !strings.Contains(b.LastError, ErrSizeMismatch.Error()) {
			t.Fatalf("LastError = %q, want a size mismatch", b.LastError)
		}
		if _, err := os.Stat(filepath.Join(env.local, key)); err != nil {
			t.Fatalf("local copy deleted after a failed verification: %v", err)
		}
	})
}

func TestUploaderBackoff(t *testing.T) {
	env := newEnv(t)
	remote := localRemote(t)
	remote.putErr = errors.New("injected: store unavailable")
	clock := newTestClock()
	key := "2026/11/28/backoff.cast.gz"
	writeRecording(t, env.local, key, 10, 0)
	cfg := env.config(remote)
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Clock = time.Second, 8*time.Second, clock.Now
	u := newUploader(t, cfg)
	enqueue(t, u, key)
	run(t, u)

	// After the n-th failure in a row the wait is half to all of
	// min(MinBackoff * 2^(n-1), MaxBackoff).
	steps := []struct{ lo, hi time.Duration }{
		{500 * time.Millisecond, time.Second},
		{time.Second, 2 * time.Second},
		{2 * time.Second, 4 * time.Second},
		{4 * time.Second, 8 * time.Second},
		{4 * time.Second, 8 * time.Second},
		{4 * time.Second, 8 * time.Second},
	}
	var prev time.Time
	for i, s := range steps {
		if i > 0 {
			clock.Advance(prev.Sub(clock.Now()))
			u.wake()
		}
		waitFor(t, 5*time.Second, "a failure", func() bool {
			b := u.Backlog()
			return b.Failing && b.NextAttempt.After(prev)
		})
		b := u.Backlog()
		if d := b.NextAttempt.Sub(clock.Now()); d < s.lo || d > s.hi {
			t.Errorf("failure %d: next attempt in %v, want %v to %v", i+1, d, s.lo, s.hi)
		}
		if !strings.Contains(b.LastError, "injected") {
			t.Errorf("LastError = %q", b.LastError)
		}
		prev = b.NextAttempt
	}
	if n := remote.puts.Load(); n != int32(len(steps)) {
		t.Errorf("%d attempts, want %d: an attempt before its time", n, len(steps))
	}

	// Waking early (clock not advanced) tries nothing.
	u.wake()
	time.Sleep(20 * time.Millisecond)
	if n := remote.puts.Load(); n != int32(len(steps)) {
		t.Errorf("%d attempts after an early wake, want %d", n, len(steps))
	}

	// Kick forgets the backoff: an attempt at once, and the next failure
	// waits the minimum again.
	u.Kick()
	waitFor(t, 5*time.Second, "the kicked attempt", func() bool { return remote.puts.Load() == int32(len(steps)+1) })
	waitFor(t, 5*time.Second, "the kicked failure", func() bool { return u.Backlog().NextAttempt.Before(prev) })
	if d := u.Backlog().NextAttempt.Sub(clock.Now()); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("after Kick: next attempt in %v, want 0.5s to 1s", d)
	}

	remote.set(func(f *faultyBackend) { f.putErr = nil })
	u.Kick()
	waitFor(t, 5*time.Second, "the upload", drained(u))
	if b := u.Backlog(); b.Failing || b.LastError != "" || !b.LastSuccess.Equal(clock.Now()) {
		t.Errorf("Backlog after success: %+v", b)
	}
}

func TestUploaderEnqueue(t *testing.T) {
	env := newEnv(t)
	u := newUploader(t, env.config(localRemote(t)))
	key := "2026/11/28/e.cast.gz"
	writeRecording(t, env.local, key, 10, 0)

	if err := u.Enqueue("../outside"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Enqueue of a bad key: got %v, want ErrInvalidKey", err)
	}
	if err := u.Enqueue("2026/11/28/missing.cast.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Enqueue of a missing file: got %v, want ErrNotFound", err)
	}
	enqueue(t, u, key, key, key)
	q := env.queueFiles(t)
	if len(q) != 1 {
		t.Fatalf("queue files after enqueueing a key three times: %v, want one", q)
	}
	data, err := os.ReadFile(q[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := decodeQueueFile(filepath.Base(q[0]), data); err != nil || rec.Key != key {
		t.Fatalf("queue file = %+v, %v; want key %q", rec, err, key)
	}
	if b := u.Backlog(); b.Pending != 1 || b.PendingBytes != 10 {
		t.Fatalf("Backlog = %+v, want 1 pending of 10 bytes", b)
	}
	if left, _ := filepath.Glob(filepath.Join(env.queue, queueTmpPref+"*")); len(left) != 0 {
		t.Fatalf("temporary files left in the queue: %v", left)
	}
}

func TestUploaderEnqueueDuringUpload(t *testing.T) {
	env := newEnv(t)
	remote := localRemote(t)
	gate := make(chan struct{})
	remote.gate = gate
	key := "2026/11/28/again.cast.gz"
	writeRecording(t, env.local, key, 10, 0)
	u := newUploader(t, env.config(remote))
	enqueue(t, u, key)
	run(t, u)
	waitFor(t, 5*time.Second, "the upload to start", func() bool { return remote.puts.Load() == 1 })

	// The recorder appended and enqueues again while the first copy is
	// on its way: the key must go again, with the new content.
	want := writeRecording(t, env.local, key, 20, 9)
	enqueue(t, u, key)
	remote.set(func(f *faultyBackend) { f.gate = nil })
	close(gate)
	waitFor(t, 5*time.Second, "the second upload", drained(u))
	if n := remote.puts.Load(); n < 2 {
		t.Fatalf("%d uploads, want 2", n)
	}
	if got := backendDigest(t, remote, key); got != want {
		t.Fatal("the remote has the old content")
	}
}

func TestUploaderCorruptQueueFile(t *testing.T) {
	env := newEnv(t)
	remote := localRemote(t)
	good := "2026/11/28/good.cast.gz"
	writeRecording(t, env.local, good, 100, 1)
	if err := os.MkdirAll(env.queue, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(env.queue, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(queueName(good), encodeQueueFile(good, time.Now()))
	badName := queueName("2026/11/28/bad.cast.gz")
	write(badName, []byte("\x00garbage{"))
	write(queueTmpPref+"123", []byte(`{"v":1,`)) // an Enqueue cut by a crash

	logs := &logBuffer{}
	cfg := env.config(remote)
	cfg.Log = logs.Logger()
	u := newUploader(t, cfg)
	if b := u.Backlog(); b.Pending != 1 || b.Corrupt != 1 {
		t.Fatalf("Backlog = %+v, want 1 pending and 1 corrupt", b)
	}
	if _, err := os.Stat(filepath.Join(env.queue, badName+corruptExt)); err != nil {
		t.Errorf("corrupt file not set aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(env.queue, queueTmpPref+"123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file: %v", err)
	}
	if !strings.Contains(logs.String(), "unreadable") || !strings.Contains(logs.String(), badName) {
		t.Errorf("the corrupt file is not reported in the log:\n%s", logs.String())
	}
	run(t, u)
	waitFor(t, 5*time.Second, "the good upload", drained(u))
	if b := u.Backlog(); b.Uploaded != 1 || b.Corrupt != 1 {
		t.Fatalf("Backlog = %+v, want 1 uploaded, 1 corrupt", b)
	}
}

func TestUploaderVanishedRecording(t *testing.T) {
	env := newEnv(t)
	remote := localRemote(t)
	lost, done := "2026/11/28/lost.cast.gz", "2026/11/28/done.cast.gz"
	writeRecording(t, env.local, lost, 10, 1)
	writeRecording(t, env.local, done, 10, 2)
	var hooked []string
	logs := &logBuffer{}
	cfg := env.config(remote)
	cfg.Log = logs.Logger()
	cfg.OnUploaded = func(k string) { hooked = append(hooked, k) }
	cfg.Workers = 1
	u := newUploader(t, cfg)
	enqueue(t, u, lost, done)

	// lost: deleted before its upload (retention, or by hand). done: the
	// server crashed after deleting the uploaded local copy and before
	// removing the queue entry.
	os.Remove(filepath.Join(env.local, lost))
	f := mustOpen(t, filepath.Join(env.local, done))
	if err := remote.Put(context.Background(), done, f, 10); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(env.local, done))

	run(t, u)
	waitFor(t, 5*time.Second, "the queue to empty", drained(u))
	if b := u.Backlog(); b.Uploaded != 1 || b.Failing {
		t.Errorf("Backlog = %+v, want 1 uploaded, not failing", b)
	}
	if !slices.Equal(hooked, []string{done}) {
		t.Errorf("OnUploaded got %v, want [%s]", hooked, done)
	}
	if !strings.Contains(logs.String(), "vanished") {
		t.Errorf("the lost recording is not reported:\n%s", logs.String())
	}
}

// TestUploaderStall uploads to a server that accepts the connection and
// never reads: the watchdog must give up and report it.
func TestUploaderStall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	remote, err := NewS3(context.Background(), S3Config{Endpoint: l.Addr().String(), Bucket: "recordings",
		AccessKey: "ak", SecretKey: "secret-key-0123", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t)
	key := "2026/11/28/stall.cast.gz"
	writeRecording(t, env.local, key, 16<<20, 1)
	cfg := env.config(remote)
	cfg.StallTimeout, cfg.MinBackoff = 300*time.Millisecond, time.Hour
	u := newUploader(t, cfg)
	enqueue(t, u, key)
	start := time.Now()
	run(t, u)
	waitFor(t, 10*time.Second, "the stalled upload to fail", failing(u))
	if b := u.Backlog(); !strings.Contains(b.LastError, "stalled") {
		t.Fatalf("LastError = %q, want a stall", b.LastError)
	}
	t.Logf("stall detected after %v", time.Since(start).Round(time.Millisecond))
}

func TestUploaderNoSecretInLogs(t *testing.T) {
	srv := s3test.Start(t)
	cfg := s3Config(srv)
	wrong := "WRONG-" + srv.SecretKey
	cfg.SecretKey = wrong
	remote, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t)
	key := "2026/11/28/secret.cast.gz"
	writeRecording(t, env.local, key, 10, 1)
	logs := &logBuffer{}
	ucfg := env.config(remote)
	ucfg.Log, ucfg.MinBackoff = logs.Logger(), time.Hour
	u := newUploader(t, ucfg)
	u.log.Info("remote configured", "s3", cfg)
	enqueue(t, u, key)
	run(t, u)
	waitFor(t, 10*time.Second, "the failure", failing(u))
	b := u.Backlog()
	if b.LastError == "" || strings.Contains(b.LastError, wrong) || strings.Contains(b.LastError, srv.SecretKey) {
		t.Fatalf("LastError = %q", b.LastError)
	}
	for _, secret := range []string{wrong, srv.SecretKey} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log shows a secret key:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), cfg.AccessKey) {
		t.Errorf("the log does not say which access key was used:\n%s", logs.String())
	}
	t.Logf("LastError with a wrong secret key: %s", b.LastError)
}

func TestNewUploaderConfig(t *testing.T) {
	env := newEnv(t)
	if _, err := NewUploader(UploaderConfig{LocalDir: env.local, QueueDir: env.queue}); err == nil {
		t.Error("no remote: got nil error")
	}
	if _, err := NewUploader(UploaderConfig{LocalDir: env.local, Remote: localRemote(t)}); err == nil {
		t.Error("no queue dir: got nil error")
	}
	u := newUploader(t, UploaderConfig{LocalDir: env.local, QueueDir: env.queue, Remote: localRemote(t)})
	c := u.cfg
	if c.MinBackoff != time.Second || c.MaxBackoff != 5*time.Minute || c.Workers != 2 || c.StallTimeout != 2*time.Minute || c.Clock == nil || c.Log == nil {
		t.Errorf("defaults: %+v", c)
	}
	if fi, err := os.Stat(env.queue); err != nil || !fi.IsDir() {
		t.Errorf("queue dir not created: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	waitFor(t, 5*time.Second, "Run to start", u.running.Load)
	if err := u.Run(ctx); err == nil {
		t.Error("a second concurrent Run: got nil error")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
