package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/httpapi"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// A finished recording replays by its index and byte ranges: the index
// (gzip-encoded when asked), one segment by Range that decompresses on its
// own, and the whole recording as plain asciicast; a running session has none.
func TestRecordingReplayEndpoints(t *testing.T) {
	st := storetest.SQLite(t)
	recDir := t.TempDir()
	e := newEnv(t, st, func(d *httpapi.Deps) { d.RecordingDir = recDir })
	admin := e.adminToken()

	var cast strings.Builder
	cast.WriteString(`{"version": 2, "width": 80, "height": 24}` + "\n")
	for i := range 400 {
		fmt.Fprintf(&cast, "[%d.5, \"o\", \"line %d %s\\r\\n\"]\n", i, i, strings.Repeat("x", 900))
		if i%50 == 0 {
			fmt.Fprintf(&cast, "[%d.6, \"m\", \"cmd-%d\"]\n", i, i)
		}
	}
	path := filepath.Join(recDir, "s1.cast.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(cast.String()))
	zw.Close()
	if err := os.WriteFile(path, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	storetest.MustCreate(t, st.DB, &store.Session{ID: "s1", OrgID: 1, Username: "alice", AssetName: "web01", StartedAt: ended.Add(-time.Hour), EndedAt: &ended, Recording: path})
	storetest.MustCreate(t, st.DB, &store.Session{ID: "s2", OrgID: 1, Username: "alice", AssetName: "web01", StartedAt: ended, Recording: path})

	r := e.want(e.do("GET", "/api/v1/sessions/s1/recording/index", admin, nil), http.StatusOK)
	var idx record.Index
	if err := json.Unmarshal(r.body, &idx); err != nil {
		t.Fatal(err)
	}
	if !idx.Gzip || len(idx.Segments) < 2 || len(idx.Markers) != 8 || idx.Markers[0].Label != "cmd-0" {
		t.Fatalf("index: gzip %v, %d segments, markers %v", idx.Gzip, len(idx.Segments), idx.Markers)
	}
	zr := e.want(e.do("GET", "/api/v1/sessions/s1/recording/index", admin, nil, "Accept-Encoding", "gzip"), http.StatusOK)
	if zr.hdr.Get("Content-Encoding") != "gzip" {
		t.Fatalf("index asked with gzip: Content-Encoding %q", zr.hdr.Get("Content-Encoding"))
	}
	if plain := gunzip(t, zr.body); !bytes.Equal(bytes.TrimSpace(plain), bytes.TrimSpace(r.body)) {
		t.Fatal("the gzip-encoded index differs from the plain one")
	}

	// The index comes without its keyframes, which come one at a time.
	full, err := record.ReadIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, sg := range idx.Segments {
		if sg.Keyframe != "" {
			t.Fatalf("segment %d of the served index has its keyframe", i)
		}
	}
	if full.Segments[1].Keyframe == "" || !strings.Contains(full.Segments[1].Keyframe, "line ") {
		t.Fatalf("segment 1 should have a keyframe with text: %.80q", full.Segments[1].Keyframe)
	}
	for i := range full.Segments {
		k := e.want(e.do("GET", fmt.Sprintf("/api/v1/sessions/s1/recording/keyframes/%d", i), admin, nil), http.StatusOK)
		if string(k.body) != full.Segments[i].Keyframe || !strings.HasPrefix(k.hdr.Get("Content-Type"), "text/plain") {
			t.Fatalf("keyframe %d: %q (%s), want %.80q", i, k.body, k.hdr.Get("Content-Type"), full.Segments[i].Keyframe)
		}
	}
	e.want(e.do("GET", fmt.Sprintf("/api/v1/sessions/s1/recording/keyframes/%d", len(full.Segments)), admin, nil), http.StatusNotFound)
	e.want(e.do("GET", "/api/v1/sessions/s1/recording/keyframes/-1", admin, nil), http.StatusBadRequest)
	e.want(e.do("GET", "/api/v1/sessions/s1/recording/keyframes/one", admin, nil), http.StatusBadRequest)
	e.want(e.do("GET", "/api/v1/sessions/s2/recording/keyframes/0", admin, nil), http.StatusConflict)

	seg := idx.Segments[1]
	rr := e.do("GET", "/api/v1/sessions/s1/recording/raw", admin, nil, "Range", fmt.Sprintf("bytes=%d-%d", seg.Offset, seg.Offset+seg.Length-1))
	if rr.status != http.StatusPartialContent || int64(len(rr.body)) != seg.Length {
		t.Fatalf("range: status %d, %d bytes, want 206 and %d", rr.status, len(rr.body), seg.Length)
	}
	if events := string(gunzip(t, rr.body)); !strings.HasPrefix(events, "[") || !strings.Contains(events, "line ") {
		t.Fatalf("segment 1 does not decompress to events on its own: %.80q", events)
	}

	whole := e.want(e.do("GET", "/api/v1/sessions/s1/recording", admin, nil), http.StatusOK)
	if whole.hdr.Get("Content-Encoding") != "" || string(whole.body) != cast.String() {
		t.Fatalf("whole recording: encoding %q, %d bytes, want the plain %d", whole.hdr.Get("Content-Encoding"), len(whole.body), cast.Len())
	}
	e.want(e.do("GET", "/api/v1/sessions/s2/recording/index", admin, nil), http.StatusConflict)
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
