package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/bundle"
	"github.com/portcullis/portcullis/backend/record"
)

const testCast = `{"version": 2, "width": 80, "height": 24}
[0.5, "o", "$ "]
[1.0, "m", "echo offline-$((6*7))"]
[1.2, "o", "offline-42\r\n$ "]
`

// Recordings open from disk for offline replay without touching the file: a
// signed bundle (with its verdict), a tampered one, a .cast.gz and a .cast;
// anything else is refused.
func TestOpenRecording(t *testing.T) {
	dir := t.TempDir()
	s := newReplayStore(filepath.Join(dir, "cache"))
	ctx := context.Background()

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := bundle.NewSigner(priv)
	var buf bytes.Buffer
	if _, err := bundle.Write(ctx, &buf, bundle.Contents{
		Metadata:  bundle.Metadata{SessionID: "s-1", Username: "alice", AssetName: "web01", Protocol: "ssh", StartedAt: time.Now(), ExportedAt: time.Now()},
		Recording: strings.NewReader(testCast), RecordingName: "s-1.cast",
	}, signer); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "s-1.pcbundle")
	os.WriteFile(good, buf.Bytes(), 0o600)
	bad := filepath.Join(dir, "s-1-altered.pcbundle")
	altered := bytes.Clone(buf.Bytes())
	altered[len(altered)/4] ^= 1
	os.WriteFile(bad, altered, 0o600)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(testCast))
	zw.Close()
	castGz := filepath.Join(dir, "s-2.cast.gz")
	os.WriteFile(castGz, gz.Bytes(), 0o600)
	cast := filepath.Join(dir, "s-3.cast")
	os.WriteFile(cast, []byte(testCast), 0o600)

	info, err := s.open(ctx, good)
	if err != nil || !info.Bundle || !info.Verified || info.Signer != signer.Fingerprint() || info.Kind != "cast" || info.Session == nil || info.Session.Username != "alice" {
		t.Fatalf("signed bundle: got %+v, %v", info, err)
	}
	e, _ := s.entry(info.ID)
	idx, err := (&App{replays: s}).ReplayIndex(info.ID)
	if err != nil || len(idx.Markers) != 1 || idx.Markers[0].Label != "echo offline-$((6*7))" {
		t.Fatalf("index of the bundle's recording: %+v, %v", idx, err)
	}
	for i, sg := range idx.Segments {
		if sg.Keyframe != "" {
			t.Fatalf("segment %d of ReplayIndex has its keyframe", i)
		}
	}
	full, err := record.ReadIndex(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range full.Segments {
		if kf, err := (&App{replays: s}).ReplayKeyframe(info.ID, i); err != nil || kf != full.Segments[i].Keyframe {
			t.Fatalf("keyframe %d: %q %v, want %q", i, kf, err, full.Segments[i].Keyframe)
		}
	}
	if _, err := (&App{replays: s}).ReplayKeyframe(info.ID, len(full.Segments)); err == nil {
		t.Fatal("a keyframe past the last segment was answered")
	}
	seg, err := (&App{replays: s}).ReplaySegment(info.ID, 0)
	if err != nil || !strings.Contains(seg, "offline-42") {
		t.Fatalf("segment 0: %q, %v", seg, err)
	}
	if !strings.HasPrefix(e.path, filepath.Join(dir, "cache")) {
		t.Errorf("the recording was prepared outside the cache: %s", e.path)
	}

	info, err = s.open(ctx, bad)
	if err == nil && (info.Verified || len(info.Problems) == 0) {
		t.Fatalf("tampered bundle: got %+v, want not verified with problems", info)
	}

	for _, p := range []string{castGz, cast} {
		before, _ := os.ReadFile(p)
		info, err := s.open(ctx, p)
		if err != nil || info.Bundle || info.Kind != "cast" {
			t.Fatalf("%s: got %+v, %v", filepath.Base(p), info, err)
		}
		after, _ := os.ReadFile(p)
		if !bytes.Equal(before, after) {
			t.Errorf("%s was changed by opening it", filepath.Base(p))
		}
		if _, err := os.Stat(p + ".idx"); err == nil {
			t.Errorf("an index was written beside %s", filepath.Base(p))
		}
	}

	other := filepath.Join(dir, "notes.txt")
	os.WriteFile(other, []byte("hello"), 0o600)
	if _, err := s.open(ctx, other); !errors.Is(err, ErrNotRecording) {
		t.Errorf("a text file: got %v, want ErrNotRecording", err)
	}
	if _, err := s.open(ctx, filepath.Join(dir, "missing.cast")); err == nil {
		t.Error("a missing file opened")
	}
}
