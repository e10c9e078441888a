package httpapi

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/store"
)

// registerRecordings adds the recordings of sessions: the whole file (for
// `asciinema play` and the desktop player), its seek index (built on first
// use) and byte ranges of it, which the UI's player fetches segment by
// segment so that a long recording opens and seeks without a full download.
func (a *API) registerRecordings() {
	a.add(&route{method: "GET", path: "/sessions/{id}/recording", tag: "Sessions",
		summary: "A session's recording: asciicast v2 for terminals (plain text, ready for asciinema play), Guacamole instructions (.guac) for desktops; every read is audited",
		access:  adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.sessionOf(r, rc, "GET /sessions/{id}/recording")
			if err != nil {
				return err
			}
			f, err := a.openRecording(s.Recording)
			if err != nil {
				a.oplog(r.Context(), rc, "session.replay", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, false, err.Error())
				return errNotFound("recording")
			}
			defer f.Close()
			a.oplog(r.Context(), rc, "session.replay", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, true, "")
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			if strings.HasSuffix(s.Recording, ".guac") {
				// A desktop session: the Guacamole instructions its user received.
				h.Set("Content-Type", "application/x-guacamole")
				h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+".guac"))
			} else {
				h.Set("Content-Type", "application/x-asciicast")
				h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+".cast"))
			}
			var src io.Reader = f
			if strings.HasSuffix(s.Recording, ".gz") {
				// An indexed .cast.gz holds one gzip member per segment, which
				// browsers (and some clients) do not read past the first as a
				// Content-Encoding: send it decompressed.
				zr, err := gzip.NewReader(f)
				if err != nil {
					return fmt.Errorf("httpapi: recording of %s: %w", s.ID, err)
				}
				defer zr.Close()
				src = zr
			}
			w.WriteHeader(http.StatusOK)
			if _, err := io.Copy(w, src); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				a.log.WarnContext(r.Context(), "send recording", "session", s.ID, "err", err)
			}
			return nil
		}})
	a.add(&route{method: "GET", path: "/sessions/{id}/recording/index", tag: "Sessions",
		summary: "The seek index of a session's recording (segments with their times and byte ranges, and the command markers; keyframes come one at a time from .../recording/keyframes/{i}), built on first use; the start of a replay, audited as session.replay",
		access:  adminRead, resp: record.Index{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.sessionOf(r, rc, "GET /sessions/{id}/recording/index")
			if err != nil {
				return err
			}
			idx, err := a.recordingIndex(r.Context(), s)
			if s.EndedAt != nil {
				a.oplog(r.Context(), rc, "session.replay", "session", s.ID, s.Username+"@"+s.AssetName, nil, nil, err == nil, errMessage(err))
			}
			if err != nil {
				return err
			}
			writeJSONGzip(w, r, idx.Index)
			return nil
		}})
	a.add(&route{method: "GET", path: "/sessions/{id}/recording/keyframes/{i}", tag: "Sessions",
		summary: "The keyframe of segment i of the recording's index: ANSI text that redraws the terminal at the segment's start when written to a reset terminal of the segment's size (empty for a segment without one)",
		access:  adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.sessionOf(r, rc, "GET /sessions/{id}/recording/keyframes/{i}")
			if err != nil {
				return err
			}
			i, err := strconv.Atoi(r.PathValue("i"))
			if err != nil || i < 0 {
				return errBadRequest("i", "a segment number (0, 1, …)")
			}
			idx, err := a.recordingIndex(r.Context(), s)
			if err != nil {
				return err
			}
			if i >= len(idx.Index.Segments) {
				return errNotFound("segment")
			}
			kf, err := idx.Keyframe(i)
			if err != nil {
				return fmt.Errorf("httpapi: recording of %s: %w", s.ID, err)
			}
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Content-Length", strconv.Itoa(len(kf)))
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, kf)
			return nil
		}})
	a.add(&route{method: "GET", path: "/sessions/{id}/recording/raw", tag: "Sessions",
		summary: "The recording's file as stored, with HTTP range requests (Range: bytes=a-b): the player fetches the segments its index names (gzip members of a .cast.gz)",
		access:  adminRead,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			s, err := a.sessionOf(r, rc, "GET /sessions/{id}/recording/raw")
			if err != nil {
				return err
			}
			f, err := a.openRecording(s.Recording)
			if err != nil {
				return errNotFound("recording")
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("httpapi: recording: %w", err)
			}
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "", st.ModTime(), f)
			return nil
		}})
}

// writeJSONGzip writes v as JSON, gzip-encoded when the client accepts it:
// the index of a long recording is megabytes of keyframes that compress 5x.
func writeJSONGzip(w http.ResponseWriter, r *http.Request, v any) {
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		writeJSON(w, http.StatusOK, v)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	w.WriteHeader(http.StatusOK)
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	zw.Close()
}

// sessionOf loads the session named by the request's {id} in the caller's
// organization; one of another organization is audited and reported as 404.
func (a *API) sessionOf(r *http.Request, rc *reqCtx, what string) (*store.Session, error) {
	id := r.PathValue("id")
	if len(id) > 64 {
		return nil, errNotFound("session")
	}
	var s store.Session
	if err := a.db.WithContext(r.Context()).Where("id = ? AND org_id = ?", id, rc.orgID).Take(&s).Error; err != nil {
		if errors.Is(store.Translate(err), store.ErrNotFound) {
			var n int64
			a.db.WithContext(r.Context()).Model(&store.Session{}).Where("id = ?", id).Count(&n)
			if n > 0 {
				a.deny(r.Context(), rc, what, "recording of another organization's session "+id)
			}
			return nil, errNotFound("session")
		}
		return nil, store.Translate(err)
	}
	return &s, nil
}

// recordingIndex answers the index of an ended session's recording, built on
// first use.
func (a *API) recordingIndex(ctx context.Context, s *store.Session) (*record.CachedIndex, error) {
	if s.EndedAt == nil {
		return nil, &Error{Status: http.StatusConflict, Code: codeConflict, Message: "the session is still running: watch it live; its recording can be replayed once it ends"}
	}
	f, err := a.openRecording(s.Recording)
	if err != nil {
		return nil, errNotFound("recording")
	}
	f.Close()
	idx, err := a.indexes.get(ctx, f.Name())
	if err != nil {
		return nil, fmt.Errorf("httpapi: index recording of %s: %w", s.ID, err)
	}
	return idx, nil
}

// Bounds of the cache of parsed indexes: a player asks for one keyframe per
// seek, and the index of a long recording takes tens of milliseconds to parse.
const (
	indexCacheEntries   = 8
	indexCacheKeyframes = 96 << 20
)

// indexer answers recording indexes from a cache, and builds them one at a time
// per file: two players opening the same recording wait for one build.
type indexer struct {
	cache    *record.IndexCache
	mu       sync.Mutex // guards inflight
	inflight map[string]*indexBuild
}

type indexBuild struct {
	done chan struct{}
	err  error
}

// get answers the index of the recording at path: cached, read, or built.
func (x *indexer) get(ctx context.Context, path string) (*record.CachedIndex, error) {
	if idx, err := x.cache.Get(path); err == nil {
		return idx, nil
	}
	if err := x.build(ctx, path); err != nil {
		return nil, err
	}
	return x.cache.Get(path)
}

func (x *indexer) build(ctx context.Context, path string) error {
	x.mu.Lock()
	if x.inflight == nil {
		x.inflight = map[string]*indexBuild{}
	}
	b, ok := x.inflight[path]
	if !ok {
		b = &indexBuild{done: make(chan struct{})}
		x.inflight[path] = b
		go func() {
			_, b.err = record.BuildIndex(context.WithoutCancel(ctx), path, record.IndexOptions{})
			x.mu.Lock()
			delete(x.inflight, path)
			x.mu.Unlock()
			close(b.done)
		}()
	}
	x.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openRecording opens a recording file, which must lie in the recordings
// directory (a row pointing elsewhere is refused).
func (a *API) openRecording(path string) (*os.File, error) {
	if path == "" || a.RecordingDir == "" {
		return nil, errors.New("no recording")
	}
	dir, err := filepath.Abs(a.RecordingDir)
	if err != nil {
		return nil, err
	}
	p, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(dir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, errors.New("recording outside the recordings directory")
	}
	return os.Open(p)
}
