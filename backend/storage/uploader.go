package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// UploaderConfig configures an Uploader.
type UploaderConfig struct {
	// LocalDir is the recordings directory; keys are paths relative to it.
	LocalDir string
	// QueueDir holds the queue (e.g. <data dir>/upload-queue): one small
	// file per pending key, written atomically and fsynced, so pending
	// uploads survive a crash or a restart. Created when missing.
	QueueDir string
	// Remote is where the recordings go.
	Remote Backend
	// KeepLocal keeps the local copy after a verified upload. When false,
	// the local file is deleted only after the remote Stat matches its size.
	KeepLocal bool
	// MinBackoff and MaxBackoff bound the wait after a failure (defaults 1s
	// and 5m): exponential, with jitter between half and all of it.
	MinBackoff, MaxBackoff time.Duration
	// Workers is the number of concurrent uploads (default 2).
	Workers int
	// StallTimeout cancels an upload that has read nothing from the local
	// file for this long, e.g. to a store that accepts the connection but
	// no longer reads (default 2m).
	StallTimeout time.Duration
	// Log receives the uploader's messages (default: discarded).
	Log *slog.Logger
	// Clock is the time source of the backoff (default time.Now).
	Clock func() time.Time
	// OnUploaded, when set, is called after a key's upload is verified and
	// before it leaves the queue: at least once per upload, so it must be
	// idempotent. It runs on a worker, so it should return quickly.
	OnUploaded func(key string)
}

// Backlog is what the UI shows of the upload queue.
type Backlog struct {
	Pending      int       // keys waiting or uploading
	PendingBytes int64     // their local size
	Failing      bool      // the last attempt failed (until the next success)
	LastError    string    // that failure; never holds a secret key
	LastSuccess  time.Time // the last verified upload
	NextAttempt  time.Time // when a waiting key is tried next (now when due); zero when none waits
	Uploaded     int64     // verified uploads since the Uploader was created
	Corrupt      int       // queue files that could not be read (set aside as *.corrupt)
}

// Uploader copies finished recordings from the local directory to the remote
// backend in the background, retrying with backoff while the remote is down.
// One Uploader at a time may use a QueueDir.
type Uploader struct {
	cfg   UploaderConfig
	local *Local
	log   *slog.Logger
	clock func() time.Time

	running atomic.Bool

	// progress, when set (by tests), is called with the bytes read so far
	// from a key's local file.
	progress func(key string, read int64)

	mu           sync.Mutex // guards the fields below and the queue directory's files
	jobs         map[string]*job
	changed      chan struct{} // closed and replaced whenever a job may have become due
	blockedUntil time.Time     // no attempt before this after a failure
	consecFails  int           // failures since the last success, for blockedUntil
	failing      bool
	lastErr      string
	lastSuccess  time.Time
	uploaded     int64
	corrupt      int
}

// job is one pending key.
type job struct {
	key      string
	file     string // queue file name
	size     int64
	enqueued time.Time
	next     time.Time // not tried before
	failures int
	gen      uint64 // bumped by Enqueue; an upload started at an older gen runs again
	inflight bool
}

// Defaults of UploaderConfig.
const (
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultWorkers      = 2
	DefaultStallTimeout = 2 * time.Minute
)

// errStalled is the cause of an upload canceled by the stall watchdog.
var errStalled = errors.New("storage: upload stalled: no progress")

// NewUploader checks cfg, sets its defaults and loads the queue directory, so
// that Backlog shows what a previous run left pending.
func NewUploader(cfg UploaderConfig) (*Uploader, error) {
	if cfg.Remote == nil {
		return nil, errors.New("storage: uploader: no remote backend")
	}
	if cfg.QueueDir == "" {
		return nil, errors.New("storage: uploader: no queue directory")
	}
	local, err := NewLocal(cfg.LocalDir)
	if err != nil {
		return nil, fmt.Errorf("storage: uploader: %w", err)
	}
	if err := os.MkdirAll(cfg.QueueDir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: uploader: %w", err)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	u := &Uploader{
		cfg:     cfg,
		local:   local,
		log:     cfg.Log.With("component", "storage.uploader", "remote", cfg.Remote.Name()),
		clock:   cfg.Clock,
		jobs:    make(map[string]*job),
		changed: make(chan struct{}),
	}
	if err := u.load(); err != nil {
		return nil, err
	}
	return u, nil
}

// load reads the queue directory into jobs: entries of a previous run resume,
// leftovers of an interrupted Enqueue are removed, unreadable files are set
// aside and counted.
func (u *Uploader) load() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	entries, err := os.ReadDir(u.cfg.QueueDir)
	if err != nil {
		return fmt.Errorf("storage: uploader: read queue: %w", err)
	}
	corrupt := 0
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, queueTmpPref):
			// An Enqueue that never returned: it did not promise anything.
			os.Remove(filepath.Join(u.cfg.QueueDir, name))
			continue
		case strings.HasSuffix(name, corruptExt):
			corrupt++
			continue
		case !strings.HasSuffix(name, queueExt) || !e.Type().IsRegular():
			continue
		}
		p := filepath.Join(u.cfg.QueueDir, name)
		rec, err := readQueueFile(p, name)
		if err != nil {
			u.log.Error("upload queue file unreadable: set aside, its recording is not uploaded", "file", p, "err", err)
			if rerr := os.Rename(p, p+corruptExt); rerr != nil {
				u.log.Error("set aside corrupt upload queue file", "file", p, "err", rerr)
			}
			corrupt++
			continue
		}
		if _, ok := u.jobs[rec.Key]; ok {
			continue
		}
		size, _ := u.local.Stat(context.Background(), rec.Key)
		u.jobs[rec.Key] = &job{key: rec.Key, file: name, size: size, enqueued: rec.Enqueued}
	}
	u.corrupt = corrupt
	u.signal()
	return nil
}

func readQueueFile(path, name string) (queueRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return queueRecord{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxQueueFile+1))
	if err != nil {
		return queueRecord{}, err
	}
	return decodeQueueFile(name, data)
}

// Enqueue queues key (a path relative to LocalDir) for upload. The entry is
// on disk, fsynced, when Enqueue returns. Enqueueing a pending key again is a
// no-op, unless its upload is running: then it runs again afterwards, for a
// file that changed meanwhile.
func (u *Uploader) Enqueue(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	size, err := u.local.Stat(context.Background(), key)
	if err != nil {
		return fmt.Errorf("storage: enqueue: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if j, ok := u.jobs[key]; ok {
		j.gen++
		j.size = size
		return nil
	}
	now := u.clock()
	name := queueName(key)
	if err := writeFileAtomic(u.cfg.QueueDir, name, encodeQueueFile(key, now)); err != nil {
		return fmt.Errorf("storage: enqueue %s: %w", key, err)
	}
	u.jobs[key] = &job{key: key, file: name, size: size, enqueued: now}
	u.signal()
	return nil
}

// Kick makes every pending key due now and forgets the backoff, e.g. after
// the remote's settings changed.
func (u *Uploader) Kick() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.blockedUntil = time.Time{}
	u.consecFails = 0
	for _, j := range u.jobs {
		j.next = time.Time{}
		j.failures = 0
	}
	u.signal()
}

// Backlog returns the state of the queue.
func (u *Uploader) Backlog() Backlog {
	u.mu.Lock()
	defer u.mu.Unlock()
	b := Backlog{
		Pending:     len(u.jobs),
		Failing:     u.failing,
		LastError:   u.lastErr,
		LastSuccess: u.lastSuccess,
		Uploaded:    u.uploaded,
		Corrupt:     u.corrupt,
	}
	for _, j := range u.jobs {
		b.PendingBytes += j.size
		if j.inflight {
			continue
		}
		t := j.next
		if t.Before(u.blockedUntil) {
			t = u.blockedUntil
		}
		if b.NextAttempt.IsZero() || t.Before(b.NextAttempt) {
			b.NextAttempt = t
		}
	}
	if now := u.clock(); !b.NextAttempt.IsZero() && b.NextAttempt.Before(now) {
		b.NextAttempt = now // due, waiting for a free worker
	}
	return b
}

// signal wakes the workers; u.mu must be held.
func (u *Uploader) signal() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// wake wakes the workers without touching the backoff: with an injected
// clock, after the clock moved.
func (u *Uploader) wake() {
	u.mu.Lock()
	u.signal()
	u.mu.Unlock()
}

// Run uploads until ctx is done, then returns nil once every worker has
// stopped (an upload cut off stays queued). It reloads the queue directory
// first, so uploads pending from a previous run resume.
func (u *Uploader) Run(ctx context.Context) error {
	if !u.running.CompareAndSwap(false, true) {
		return errors.New("storage: uploader: already running")
	}
	defer u.running.Store(false)
	if err := u.load(); err != nil {
		return err
	}
	u.log.Info("uploader started", "pending", u.Backlog().Pending, "workers", u.cfg.Workers)
	var wg sync.WaitGroup
	for range u.cfg.Workers {
		wg.Go(func() { u.work(ctx) })
	}
	wg.Wait()
	return nil
}

// work takes due jobs one at a time until ctx is done.
func (u *Uploader) work(ctx context.Context) {
	for ctx.Err() == nil {
		u.mu.Lock()
		j, gen, next := u.pick(u.clock())
		wakeup := u.changed
		u.mu.Unlock()
		if j != nil {
			u.attempt(ctx, j, gen)
			continue
		}
		var timeout <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(max(next.Sub(u.clock()), time.Millisecond))
			timeout = t.C
		}
		select {
		case <-ctx.Done():
		case <-wakeup:
		case <-timeout:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// pick marks the oldest due job in flight and returns it with its
// generation, or returns when the next one is due (zero: none waits); u.mu
// must be held.
func (u *Uploader) pick(now time.Time) (*job, uint64, time.Time) {
	if now.Before(u.blockedUntil) {
		return nil, 0, u.blockedUntil
	}
	var best *job
	var next time.Time
	for _, j := range u.jobs {
		if j.inflight {
			continue
		}
		if j.next.After(now) {
			if next.IsZero() || j.next.Before(next) {
				next = j.next
			}
			continue
		}
		if best == nil || j.enqueued.Before(best.enqueued) || j.enqueued.Equal(best.enqueued) && j.key < best.key {
			best = j
		}
	}
	if best == nil {
		return nil, 0, next
	}
	best.inflight = true
	return best, best.gen, time.Time{}
}

// outcome is how an attempt ended.
type outcome int

const (
	resUploaded outcome = iota // verified on the remote
	resChanged                 // the local file changed during the upload: again, later
	resVanished                // neither a local file nor a remote copy: dropped
	resFailed                  // retry with backoff
)

// attempt uploads j once and books the result.
func (u *Uploader) attempt(ctx context.Context, j *job, gen uint64) {
	start := time.Now()
	res, size, err := u.upload(ctx, j.key)
	if ctx.Err() != nil && res != resUploaded {
		// Shutting down: the entry stays queued for the next run.
		u.mu.Lock()
		j.inflight = false
		u.mu.Unlock()
		return
	}
	if res == resUploaded && u.cfg.OnUploaded != nil {
		u.cfg.OnUploaded(j.key)
	}
	now := u.clock()
	u.mu.Lock()
	defer u.mu.Unlock()
	j.inflight = false
	switch res {
	case resUploaded:
		u.uploaded++
		u.lastSuccess = now
		u.failing, u.lastErr, u.consecFails, u.blockedUntil = false, "", 0, time.Time{}
		d := time.Since(start)
		u.log.Info("recording uploaded", "key", j.key, "bytes", size, "duration", d.Round(time.Millisecond),
			"mib_per_s", fmt.Sprintf("%.1f", float64(size)/(1<<20)/max(d.Seconds(), 1e-6)))
		if j.gen != gen {
			j.next, j.failures = time.Time{}, 0
			u.signal()
			return
		}
		u.drop(j)
	case resChanged:
		j.next = now.Add(u.cfg.MinBackoff)
		u.log.Info("recording changed during upload: again later", "key", j.key)
	case resVanished:
		u.log.Error("recording vanished before its upload: dropped from the queue", "key", j.key)
		u.drop(j)
	case resFailed:
		j.failures++
		j.next = now.Add(u.backoff(j.failures))
		u.consecFails++
		u.blockedUntil = now.Add(u.backoff(u.consecFails))
		u.failing = true
		u.lastErr = err.Error()
		u.log.Warn("upload failed", "key", j.key, "attempt", j.failures, "retry_at", j.next, "err", err)
	}
}

// drop removes j and its queue file; u.mu must be held.
func (u *Uploader) drop(j *job) {
	delete(u.jobs, j.key)
	p := filepath.Join(u.cfg.QueueDir, j.file)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		u.log.Error("remove upload queue file", "file", p, "err", err)
		return
	}
	syncDir(u.cfg.QueueDir)
}

// backoff is the wait after the n-th failure in a row: MinBackoff doubled
// n-1 times, at most MaxBackoff, of which a random half to all.
func (u *Uploader) backoff(n int) time.Duration {
	d := u.cfg.MinBackoff
	for i := 1; i < n && d < u.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, u.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// upload copies key to the remote and verifies the remote size.
func (u *Uploader) upload(ctx context.Context, key string) (outcome, int64, error) {
	f, size, err := u.local.open(key)
	if errors.Is(err, ErrNotFound) {
		// Deleted after a verified upload whose queue entry outlived a
		// crash, or by retention before the upload.
		if _, rerr := u.cfg.Remote.Stat(ctx, key); rerr == nil {
			return resUploaded, 0, nil
		} else if !errors.Is(rerr, ErrNotFound) {
			return resFailed, 0, rerr
		}
		return resVanished, 0, nil
	}
	if err != nil {
		return resFailed, 0, err
	}
	defer f.Close()

	wf := &watchedFile{f: f}
	wf.last.Store(time.Now().UnixNano())
	if u.progress != nil {
		wf.onRead = func(n int64) { u.progress(key, n) }
	}
	actx, cancel := context.WithCancelCause(ctx)
	go u.watch(actx, cancel, wf, size)
	err = u.cfg.Remote.Put(actx, key, wf, size)
	stalled := context.Cause(actx) == errStalled
	cancel(nil)
	if err != nil {
		if stalled {
			err = fmt.Errorf("%w for %v: %w", errStalled, u.cfg.StallTimeout, err)
		}
		return resFailed, size, err
	}
	rsize, err := u.cfg.Remote.Stat(ctx, key)
	if err != nil {
		return resFailed, size, fmt.Errorf("storage: verify upload of %s: %w", key, err)
	}
	if rsize != size {
		return resFailed, size, fmt.Errorf("storage: verify upload of %s: %w: remote has %d bytes, local %d", key, ErrSizeMismatch, rsize, size)
	}
	if now, err := u.local.Stat(ctx, key); err != nil || now != size {
		return resChanged, size, nil
	}
	if !u.cfg.KeepLocal {
		if err := u.local.Delete(ctx, key); err != nil {
			u.log.Error("delete local copy after upload", "key", key, "err", err)
		}
	}
	return resUploaded, size, nil
}

// watch cancels an upload that has read nothing for StallTimeout while bytes
// remain to be read. Once all is read, the HTTP client's response timeout
// takes over.
func (u *Uploader) watch(ctx context.Context, cancel context.CancelCauseFunc, wf *watchedFile, size int64) {
	tick := time.NewTicker(max(u.cfg.StallTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if wf.read.Load() >= size {
			continue
		}
		if time.Since(time.Unix(0, wf.last.Load())) > u.cfg.StallTimeout {
			cancel(errStalled)
			return
		}
	}
}

// watchedFile is the local file as the remote reads it, noting each read
// for the stall watchdog. It keeps io.ReaderAt and io.Seeker, so the S3
// client still sends parts in parallel straight from the file.
type watchedFile struct {
	f      *os.File
	read   atomic.Int64 // bytes read, counting re-reads of a retried request
	last   atomic.Int64 // UnixNano of the last read
	onRead func(read int64)
}

func (w *watchedFile) note(n int) {
	if n <= 0 {
		return
	}
	total := w.read.Add(int64(n))
	w.last.Store(time.Now().UnixNano())
	if w.onRead != nil {
		w.onRead(total)
	}
}

func (w *watchedFile) Read(p []byte) (int, error) {
	n, err := w.f.Read(p)
	w.note(n)
	return n, err
}

func (w *watchedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := w.f.ReadAt(p, off)
	w.note(n)
	return n, err
}

func (w *watchedFile) Seek(off int64, whence int) (int64, error) { return w.f.Seek(off, whence) }
