package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/storage"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// Recording housekeeping timings.
const (
	// recordingQueue bounds the finished recordings waiting for the worker;
	// when it is full the rest are indexed on their first replay instead.
	recordingQueue = 1024
	// retentionEvery is how often retention runs (and retentionFirst after start).
	retentionEvery = time.Hour
	retentionFirst = time.Minute
)

// recordings takes care of finished recordings off the sessions' paths: it
// builds the seek index the players use, copies each recording to the object
// store when one is configured (through a durable upload queue), and deletes
// the recordings that retention no longer keeps.
type recordings struct {
	log   *slog.Logger
	dir   string // the recordings directory
	queue string // the upload queue's directory
	db    *gorm.DB
	sets  *settings.Store
	vault *vault.Vault
	aud   *audit.Logger
	clock func() time.Time

	ch   chan string
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex // guards uploader, upStop, upDone, remote, remoteErr
	uploader *storage.Uploader
	upStop   context.CancelFunc
	upDone   chan struct{}
	remote   *storage.S3
	remoteOn bool
	s3Err    string
}

func newRecordings(log *slog.Logger, dataDir string, db *gorm.DB, sets *settings.Store, v *vault.Vault, aud *audit.Logger, clock func() time.Time) *recordings {
	return &recordings{log: log.With("component", "recordings"), dir: filepath.Join(dataDir, "recordings"),
		queue: filepath.Join(dataDir, "upload-queue"), db: db, sets: sets, vault: v, aud: aud, clock: clock,
		ch: make(chan string, recordingQueue)}
}

// ended is the registry's WithEnded hook.
func (r *recordings) ended(m session.Meta) {
	if m.Recording == "" {
		return
	}
	select {
	case r.ch <- m.Recording:
	default:
		r.log.Warn("recording queue full: the recording is indexed on its first replay", "session", m.ID)
	}
}

// start runs the workers until close.
func (r *recordings) start() {
	r.ctx, r.stop = context.WithCancel(context.Background())
	if err := r.Reconfigure(r.ctx); err != nil {
		r.log.Warn("object storage not started", "err", err)
	}
	r.wg.Go(func() {
		for {
			select {
			case <-r.ctx.Done():
				return
			case path := <-r.ch:
				r.finish(path)
			}
		}
	})
	r.wg.Go(func() {
		t := time.NewTimer(retentionFirst)
		defer t.Stop()
		for {
			select {
			case <-r.ctx.Done():
				return
			case <-t.C:
				if err := r.sweep(r.ctx); err != nil && r.ctx.Err() == nil {
					r.log.Warn("retention", "err", err)
				}
				t.Reset(retentionEvery)
			}
		}
	})
}

// finish indexes a finished recording and queues it for the object store.
func (r *recordings) finish(path string) {
	if _, err := record.BuildIndex(r.ctx, path, record.IndexOptions{Log: r.log}); err != nil && r.ctx.Err() == nil {
		r.log.Warn("index recording", "path", path, "err", err)
	}
	r.mu.Lock()
	up := r.uploader
	r.mu.Unlock()
	if up == nil {
		return
	}
	key, ok := r.key(path)
	if !ok {
		return
	}
	for _, k := range []string{key, key + ".idx"} {
		if err := up.Enqueue(k); err != nil {
			r.log.Warn("queue recording for upload", "key", k, "err", err)
		}
	}
}

// key is path relative to the recordings directory.
func (r *recordings) key(path string) (string, bool) {
	rel, err := filepath.Rel(r.dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Reconfigure applies the recordings settings: it (re)starts or stops the
// upload to the object store. Pending uploads stay queued on disk meanwhile.
func (r *recordings) Reconfigure(ctx context.Context) error {
	cfg, err := r.sets.Recordings(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	stop, done := r.upStop, r.upDone
	r.uploader, r.upStop, r.upDone, r.remote, r.remoteOn, r.s3Err = nil, nil, nil, nil, cfg.S3.Enabled, ""
	r.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if !cfg.S3.Enabled {
		return nil
	}
	fail := func(err error) error {
		r.mu.Lock()
		r.s3Err = err.Error()
		r.mu.Unlock()
		return err
	}
	secret := ""
	if len(cfg.S3.SecretEnc) > 0 {
		b, err := r.vault.Unseal(cfg.S3.SecretEnc, settings.S3SecretAAD)
		if err != nil {
			return fail(fmt.Errorf("server: s3 secret: %w", err))
		}
		secret = string(b)
	}
	s3, err := storage.NewS3(ctx, storage.S3Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Prefix: cfg.S3.Prefix,
		AccessKey: cfg.S3.AccessKey, SecretKey: secret, Region: cfg.S3.Region, UseTLS: cfg.S3.UseTLS, InsecureSkipVerify: cfg.S3.InsecureSkipVerify})
	if err != nil {
		return fail(err)
	}
	up, err := storage.NewUploader(storage.UploaderConfig{LocalDir: r.dir, QueueDir: r.queue, Remote: s3, KeepLocal: true,
		Log: r.log, Clock: r.clock, OnUploaded: r.uploaded})
	if err != nil {
		return fail(err)
	}
	uctx, cancel := context.WithCancel(r.ctx)
	done = make(chan struct{})
	go func() {
		defer close(done)
		if err := up.Run(uctx); err != nil && !errors.Is(err, context.Canceled) {
			r.log.Warn("uploader stopped", "err", err)
		}
	}()
	r.mu.Lock()
	r.uploader, r.upStop, r.upDone, r.remote = up, cancel, done, s3
	r.mu.Unlock()
	r.log.Info("recordings go to the object store too", "s3", s3Describe(cfg.S3))
	return nil
}

func s3Describe(s settings.S3) string {
	return fmt.Sprintf("%s/%s/%s", s.Endpoint, s.Bucket, strings.Trim(s.Prefix, "/"))
}

// uploaded notes in the session row that its recording reached the object store.
func (r *recordings) uploaded(key string) {
	if strings.HasSuffix(key, ".idx") {
		return
	}
	path := filepath.Join(r.dir, filepath.FromSlash(key))
	now := r.clock().UTC()
	if err := r.db.Model(&store.Session{}).Where("recording = ?", path).Update("uploaded_at", now).Error; err != nil {
		r.log.Warn("note upload", "key", key, "err", err)
	}
}

// Backlog reports whether the object store is on, why its upload could not
// start, and its upload backlog (httpapi.Recordings).
func (r *recordings) Backlog() (bool, string, *storage.Backlog) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.uploader == nil {
		return r.remoteOn, r.s3Err, nil
	}
	b := r.uploader.Backlog()
	return r.remoteOn, r.s3Err, &b
}

// sweep deletes the recordings retention no longer keeps, locally and in the
// object store, audits each deletion and notes it in the session row.
func (r *recordings) sweep(ctx context.Context) error {
	cfg, err := r.sets.Recordings(ctx)
	if err != nil || cfg.RetentionDays <= 0 {
		return err
	}
	now := r.clock()
	cutoff := now.Add(-time.Duration(cfg.RetentionDays) * 24 * time.Hour)
	var rows []store.Session
	if err := r.db.WithContext(ctx).Where("ended_at IS NOT NULL AND ended_at < ? AND recording <> '' AND recording_deleted_at IS NULL AND legal_hold = ?", cutoff, false).
		Limit(5000).Find(&rows).Error; err != nil {
		return fmt.Errorf("server: retention: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	local, err := storage.NewLocal(r.dir)
	if err != nil {
		return err
	}
	backends := []storage.Backend{local}
	r.mu.Lock()
	if r.remote != nil {
		backends = append(backends, r.remote)
	}
	r.mu.Unlock()
	byKey := map[string]store.Session{}
	var cands []storage.RetentionCandidate
	for _, s := range rows {
		key, ok := r.key(s.Recording)
		if !ok || s.EndedAt == nil {
			continue
		}
		byKey[key] = s
		cands = append(cands, storage.RetentionCandidate{Key: key, SessionID: s.ID, EndedAt: *s.EndedAt, LegalHold: s.LegalHold})
	}
	deleted, err := storage.Sweep(ctx, now, cfg.RetentionDays, cands, backends, func(c storage.RetentionCandidate, derr error) {
		s := byKey[c.Key]
		row := store.OperationLog{Action: "recording.delete", ResourceType: "session", ResourceID: s.ID,
			ResourceName: s.Username + "@" + s.AssetName, Success: derr == nil,
			Detail: fmt.Sprintf("retention of %d days: session ended %s", cfg.RetentionDays, c.EndedAt.UTC().Format(time.RFC3339))}
		if derr != nil {
			row.Detail += ": " + derr.Error()
		}
		org := s.OrgID
		row.OrgID = &org
		if err := r.aud.Operation(context.WithoutCancel(ctx), row); err != nil {
			r.log.Error("audit recording deletion", "session", s.ID, "err", err)
		}
	})
	for _, k := range deleted {
		s := byKey[k]
		if err := r.db.WithContext(ctx).Model(&store.Session{}).Where("id = ?", s.ID).Update("recording_deleted_at", now.UTC()).Error; err != nil {
			r.log.Warn("note recording deletion", "session", s.ID, "err", err)
		}
	}
	if len(deleted) > 0 {
		r.log.Info("retention deleted recordings", "count", len(deleted), "days", cfg.RetentionDays)
	}
	return err
}

// close stops the workers; recordings still queued are indexed on their
// first replay, and pending uploads resume at the next start.
func (r *recordings) close() {
	if r.stop != nil {
		r.stop()
	}
	r.mu.Lock()
	done := r.upDone
	r.mu.Unlock()
	if done != nil {
		<-done
	}
	r.wg.Wait()
}
