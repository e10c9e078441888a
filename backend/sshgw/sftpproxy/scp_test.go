package sftpproxy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/store"
)

// makeTree writes a small directory tree under dir/tree and returns its
// files by path relative to dir.
func makeTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"tree/a.txt":            []byte("a\n"),
		"tree/b.bin":            randomBytes(300<<10, 3),
		"tree/sub/c.txt":        []byte("c\n"),
		"tree/sub/deeper/d.bin": randomBytes(70000, 4),
		"tree/sub/deeper/e.txt": nil,
		"tree/with space/f.txt": []byte("spaces\n"),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	return files
}

func TestSCPLegacyRealClient(t *testing.T) {
	target := startTargetSSHD(t)
	h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}})
	local, remote := t.TempDir(), t.TempDir()
	small := []byte("small file\n")
	big := randomBytes(5<<20, 5)
	writeFile(t, filepath.Join(local, "small.txt"), small)
	writeFile(t, filepath.Join(local, "big.bin"), big)
	tree := makeTree(t, local)

	out, err := h.scp(t, "-O", filepath.Join(local, "small.txt"), filepath.Join(local, "big.bin"), h.remote(remote+"/"))
	if err != nil {
		t.Fatalf("scp -O upload: %v\n%s", err, out)
	}
	sameFile(t, filepath.Join(remote, "small.txt"), small)
	sameFile(t, filepath.Join(remote, "big.bin"), big)

	dl := filepath.Join(local, "dl")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := h.scp(t, "-O", h.remote(remote+"/big.bin"), filepath.Join(dl, "big.bin")); err != nil {
		t.Fatalf("scp -O download: %v\n%s", err, out)
	}
	sameFile(t, filepath.Join(dl, "big.bin"), big)

	if out, err := h.scp(t, "-O", "-r", filepath.Join(local, "tree"), h.remote(remote)); err != nil {
		t.Fatalf("scp -O -r upload: %v\n%s", err, out)
	}
	for name, data := range tree {
		sameFile(t, filepath.Join(remote, name), data)
	}
	if out, err := h.scp(t, "-O", "-r", h.remote(remote+"/tree"), dl); err != nil {
		t.Fatalf("scp -O -r download: %v\n%s", err, out)
	}
	for name, data := range tree {
		sameFile(t, filepath.Join(dl, name), data)
	}

	var want []transferKey
	want = append(want,
		transferKey{store.ActionUpload, remote + "/small.txt", int64(len(small)), sum(small), true},
		transferKey{store.ActionUpload, remote + "/big.bin", int64(len(big)), sum(big), true},
		transferKey{store.ActionDownload, remote + "/big.bin", int64(len(big)), sum(big), true},
	)
	for name, data := range tree {
		want = append(want,
			transferKey{store.ActionUpload, remote + "/" + name, int64(len(data)), sum(data), true},
			transferKey{store.ActionDownload, remote + "/" + name, int64(len(data)), sum(data), true})
	}
	checkTransfers(t, h.sink.Transfers(), want)
	if d := h.sink.Denials(); len(d) != 0 {
		t.Errorf("got denials %+v, want none", d)
	}
	for _, r := range h.Results() {
		t.Logf("served %s %q", r.kind, r.command)
		if r.kind != "scp" || r.err != nil {
			t.Errorf("got %s %q returning %v, want scp returning nil", r.kind, r.command, r.err)
		}
	}
}

func TestSCPLegacyPreserveAndGlob(t *testing.T) {
	target := startTargetSSHD(t)
	h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}})
	local, remote := t.TempDir(), t.TempDir()
	mtime := time.Date(2020, 2, 29, 12, 34, 56, 0, time.UTC)
	writeFile(t, filepath.Join(local, "p.sh"), []byte("#!/bin/sh\necho hi\n"))
	if err := os.Chmod(filepath.Join(local, "p.sh"), 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(local, "p.sh"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"one.txt", "two.txt", "skip.bin", ".hidden.txt"} {
		writeFile(t, filepath.Join(remote, "g", n), []byte(n))
	}

	if out, err := h.scp(t, "-O", "-p", filepath.Join(local, "p.sh"), h.remote(remote+"/p.sh")); err != nil {
		t.Fatalf("scp -O -p upload: %v\n%s", err, out)
	}
	fi, err := os.Stat(filepath.Join(remote, "p.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("uploaded mtime: got %v, want %v", fi.ModTime(), mtime)
	}
	if fi.Mode().Perm() != 0o751 {
		t.Errorf("uploaded mode: got %v, want 0751", fi.Mode().Perm())
	}

	dl := filepath.Join(local, "dl")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := h.scp(t, "-O", "-p", h.remote(remote+"/p.sh"), filepath.Join(dl, "p.sh")); err != nil {
		t.Fatalf("scp -O -p download: %v\n%s", err, out)
	}
	fi, err = os.Stat(filepath.Join(dl, "p.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != 0o751 {
		t.Errorf("downloaded: got mtime %v mode %v, want %v 0751", fi.ModTime(), fi.Mode().Perm(), mtime)
	}

	// The remote shell's glob, done by the proxy on the target.
	if out, err := h.scp(t, "-O", h.remote(remote+"/g/*.txt"), dl); err != nil {
		t.Fatalf("scp -O glob download: %v\n%s", err, out)
	}
	sameFile(t, filepath.Join(dl, "one.txt"), []byte("one.txt"))
	sameFile(t, filepath.Join(dl, "two.txt"), []byte("two.txt"))
	absent(t, filepath.Join(dl, "skip.bin"))
	absent(t, filepath.Join(dl, ".hidden.txt"))
}

func TestSCPSFTPMode(t *testing.T) {
	// OpenSSH 9's scp speaks SFTP by default: it opens the "sftp" subsystem.
	target := startTargetSSHD(t)
	h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}})
	local, remote := t.TempDir(), t.TempDir()
	big := randomBytes(5<<20, 6)
	writeFile(t, filepath.Join(local, "big.bin"), big)
	tree := makeTree(t, local)

	if out, err := h.scp(t, filepath.Join(local, "big.bin"), h.remote(remote+"/big.bin")); err != nil {
		t.Fatalf("scp upload: %v\n%s", err, out)
	}
	if out, err := h.scp(t, "-r", filepath.Join(local, "tree"), h.remote(remote+"/")); err != nil {
		t.Fatalf("scp -r upload: %v\n%s", err, out)
	}
	dl := filepath.Join(local, "dl")
	if out, err := h.scp(t, "-r", h.remote(remote), dl); err != nil {
		t.Fatalf("scp -r download: %v\n%s", err, out)
	}
	sameFile(t, filepath.Join(remote, "big.bin"), big)
	sameFile(t, filepath.Join(dl, "big.bin"), big)
	for name, data := range tree {
		sameFile(t, filepath.Join(remote, name), data)
		sameFile(t, filepath.Join(dl, name), data)
	}
	want := []transferKey{
		{store.ActionUpload, remote + "/big.bin", int64(len(big)), sum(big), true},
		{store.ActionDownload, remote + "/big.bin", int64(len(big)), sum(big), true},
	}
	for name, data := range tree {
		want = append(want,
			transferKey{store.ActionUpload, remote + "/" + name, int64(len(data)), sum(data), true},
			transferKey{store.ActionDownload, remote + "/" + name, int64(len(data)), sum(data), true})
	}
	checkTransfers(t, h.sink.Transfers(), want)
	for _, r := range h.Results() {
		if r.kind != "sftp" || r.err != nil {
			t.Errorf("got %s %q returning %v, want sftp returning nil", r.kind, r.command, r.err)
		}
	}
}

func TestSCPDenied(t *testing.T) {
	target := startTargetSSHD(t)
	tests := []struct {
		name          string
		opts          Options
		args          []string // %R remote dir, %L local dir, %H the gateway's user@host:
		wantOut       string
		wantTransfers []transferKey
		wantDenial    *Denial
		absent        []string
		wantErr       error // what ServeSCP returns
	}{
		{
			name:          "legacy upload without upload",
			opts:          Options{Policy: Policy{Download: true}},
			args:          []string{"-O", "%L/small.txt", "%H%R/new.txt"},
			wantOut:       "Permission denied",
			wantTransfers: []transferKey{{Direction: store.ActionUpload, Path: "%R/new.txt"}},
			wantDenial:    &Denial{Op: store.ActionUpload, Path: "%R/new.txt", Reason: ReasonNoUpload},
			absent:        []string{"%R/new.txt"},
			wantErr:       ErrTransfer,
		},
		{
			name:       "legacy recursive upload without upload",
			opts:       Options{Policy: Policy{Download: true}},
			args:       []string{"-O", "-r", "%L/tree", "%H%R/"},
			wantOut:    "Permission denied",
			wantDenial: &Denial{Op: "mkdir", Path: "%R/tree", Reason: ReasonNoUpload},
			absent:     []string{"%R/tree"},
			wantErr:    ErrTransfer,
		},
		{
			name:          "legacy download without download",
			opts:          Options{Policy: Policy{Upload: true}},
			args:          []string{"-O", "%H%R/existing.txt", "%L/got.txt"},
			wantOut:       "Permission denied",
			wantTransfers: []transferKey{{Direction: store.ActionDownload, Path: "%R/existing.txt"}},
			wantDenial:    &Denial{Op: store.ActionDownload, Path: "%R/existing.txt", Reason: ReasonNoDownload},
			absent:        []string{"%L/got.txt"},
			wantErr:       ErrTransfer,
		},
		{
			name:          "sftp-mode download without download",
			opts:          Options{Policy: Policy{Upload: true}},
			args:          []string{"%H%R/existing.txt", "%L/got.txt"},
			wantOut:       "Permission denied",
			wantTransfers: []transferKey{{Direction: store.ActionDownload, Path: "%R/existing.txt"}},
			wantDenial:    &Denial{Op: store.ActionDownload, Path: "%R/existing.txt", Reason: ReasonNoDownload},
			absent:        []string{"%L/got.txt"},
		},
		{
			name:          "sftp-mode upload without upload",
			opts:          Options{Policy: Policy{Download: true}},
			args:          []string{"%L/small.txt", "%H%R/new.txt"},
			wantOut:       "Permission denied",
			wantTransfers: []transferKey{{Direction: store.ActionUpload, Path: "%R/new.txt"}},
			wantDenial:    &Denial{Op: store.ActionUpload, Path: "%R/new.txt", Reason: ReasonNoUpload},
			absent:        []string{"%R/new.txt"},
		},
		{
			name:          "legacy download outside root",
			opts:          Options{Policy: Policy{Upload: true, Download: true}, Root: "%R/jail"},
			args:          []string{"-O", "%H%R/jail/../existing.txt", "%L/got.txt"},
			wantOut:       "Permission denied",
			wantTransfers: []transferKey{{Direction: store.ActionDownload, Path: "%R/existing.txt"}},
			wantDenial:    &Denial{Op: store.ActionDownload, Path: "%R/existing.txt", Reason: ReasonOutsideRoot},
			absent:        []string{"%L/got.txt"},
			wantErr:       ErrTransfer,
		},
		{
			name:          "legacy relative download climbing out of root",
			opts:          Options{Policy: Policy{Upload: true, Download: true}, Root: "%R/jail"},
			args:          []string{"-O", "%H../../../../../../etc/passwd", "%L/got.txt"},
			wantOut:       "Permission denied",
			wantTransfers: []transferKey{{Direction: store.ActionDownload, Path: "/etc/passwd"}},
			wantDenial:    &Denial{Op: store.ActionDownload, Path: "/etc/passwd", Reason: ReasonOutsideRoot},
			absent:        []string{"%L/got.txt"},
			wantErr:       ErrTransfer,
		},
		{
			name:       "legacy upload outside root",
			opts:       Options{Policy: Policy{Upload: true, Download: true}, Root: "%R/jail"},
			args:       []string{"-O", "%L/small.txt", "%H%R/jail/../evil.txt"},
			wantOut:    "Permission denied",
			wantDenial: &Denial{Op: store.ActionUpload, Path: "%R/evil.txt", Reason: ReasonOutsideRoot},
			absent:     []string{"%R/evil.txt"},
			wantErr:    ErrTransfer,
		},
		{
			name:          "legacy upload over the size limit",
			opts:          Options{Policy: Policy{Upload: true, Download: true}, MaxFileSize: 4},
			args:          []string{"-O", "%L/small.txt", "%H%R/new.txt"},
			wantOut:       "File too large",
			wantTransfers: []transferKey{{Direction: store.ActionUpload, Path: "%R/new.txt"}},
			wantDenial:    &Denial{Op: store.ActionUpload, Path: "%R/new.txt", Reason: ReasonSizeLimit},
			absent:        []string{"%R/new.txt"},
			wantErr:       ErrTransfer,
		},
		{
			name:       "shell command injection in a legacy path",
			opts:       Options{Policy: Policy{Upload: true, Download: true}},
			args:       []string{"-O", "%H%R/existing.txt;touch %R/pwned", "%L/got.txt"},
			wantOut:    "unsupported scp command",
			wantDenial: &Denial{Op: "scp", Path: "scp -f %R/existing.txt;touch %R/pwned"},
			absent:     []string{"%R/pwned", "%L/got.txt"},
			wantErr:    ErrBadCommand,
		},
		{
			name:       "command substitution in a legacy path",
			opts:       Options{Policy: Policy{Upload: true, Download: true}},
			args:       []string{"-O", "%L/small.txt", "%H%R/$(touch %R/pwned)"},
			wantOut:    "unsupported scp command",
			wantDenial: &Denial{Op: "scp", Path: "scp -t %R/$(touch %R/pwned)"},
			absent:     []string{"%R/pwned"},
			wantErr:    ErrBadCommand,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(local, "small.txt"), []byte("small\n"))
			makeTree(t, local)
			writeFile(t, filepath.Join(remote, "existing.txt"), []byte("existing\n"))
			if err := os.Mkdir(filepath.Join(remote, "jail"), 0o755); err != nil {
				t.Fatal(err)
			}
			subst := strings.NewReplacer("%R", remote, "%L", local, "%H", "alice@127.0.0.1:")
			opts := tt.opts
			opts.Root = subst.Replace(opts.Root)
			h := newHarness(t, target, opts)

			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = subst.Replace(a)
			}
			out, err := h.scp(t, args...)
			if err == nil {
				t.Errorf("scp %v succeeded, want a failure\n%s", args, out)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("scp output lacks %q:\n%s", tt.wantOut, out)
			}
			for _, a := range tt.absent {
				absent(t, subst.Replace(a))
			}
			var want []transferKey
			for _, k := range tt.wantTransfers {
				k.Path = subst.Replace(k.Path)
				want = append(want, k)
			}
			checkTransfers(t, h.sink.Transfers(), want)
			if w := tt.wantDenial; w != nil {
				ds := h.sink.Denials()
				found := false
				for _, d := range ds {
					found = found || (d.Op == w.Op && d.Path == subst.Replace(w.Path) && (w.Reason == "" || d.Reason == w.Reason))
				}
				if !found {
					t.Errorf("got denials %+v, want op %s path %s reason %q", ds, w.Op, subst.Replace(w.Path), w.Reason)
				}
			}
			for _, r := range h.Results() {
				if r.kind == "scp" && !errors.Is(r.err, tt.wantErr) {
					t.Errorf("ServeSCP(%q) returned %v, want %v", r.command, r.err, tt.wantErr)
				}
			}
		})
	}
}
