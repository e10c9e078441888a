package sftpproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
)

// writeFile writes data to name, creating its directory.
func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomBytes returns n bytes from a seeded generator.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sum is the hex SHA-256 of b.
func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sameFile fails the test unless name holds exactly want.
func sameFile(t *testing.T, name string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Errorf("read %s: %v", name, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (sha256 %s), want %d bytes (sha256 %s)", name, len(got), sum(got)[:12], len(want), sum(want)[:12])
	}
}

// absent fails the test if name exists.
func absent(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Lstat(name); err == nil {
		t.Errorf("%s exists, want it absent", name)
	}
}

// transferKey identifies a record for comparisons.
type transferKey struct {
	Direction, Path string
	Size            int64
	SHA256          string
	Allowed         bool
}

func keyOf(t store.FileTransfer) transferKey {
	return transferKey{t.Direction, t.Path, t.Size, t.SHA256, t.Allowed}
}

// checkTransfers compares the records, in any order, and checks the
// identity fields of each.
func checkTransfers(t *testing.T, got []store.FileTransfer, want []transferKey) {
	t.Helper()
	left := map[transferKey]int{}
	for _, w := range want {
		left[w]++
	}
	for _, g := range got {
		if g.OrgID != testTemplate.OrgID || g.SessionID != testTemplate.SessionID || g.UserID != testTemplate.UserID ||
			g.Username != testTemplate.Username || g.AssetName != testTemplate.AssetName || g.Account != testTemplate.Account {
			t.Errorf("transfer %+v: identity not copied from the template", g)
		}
		if g.CreatedAt.IsZero() {
			t.Errorf("transfer %+v: no CreatedAt", g)
		}
		k := keyOf(g)
		if left[k] == 0 {
			t.Errorf("unexpected transfer %+v", k)
			continue
		}
		left[k]--
	}
	for k, n := range left {
		if n > 0 {
			t.Errorf("missing transfer %+v", k)
		}
	}
}

// emptySum is the SHA-256 of no bytes.
var emptySum = sum(nil)

func TestSFTPRealClientUploadDownload(t *testing.T) {
	target := startTargetSSHD(t)
	h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}})
	local, remote := t.TempDir(), t.TempDir()

	small := []byte("hello through the bastion\n")
	big := randomBytes(5<<20, 1)
	writeFile(t, filepath.Join(local, "small.txt"), small)
	writeFile(t, filepath.Join(local, "empty"), nil)
	writeFile(t, filepath.Join(local, "big.bin"), big)
	if err := os.MkdirAll(filepath.Join(local, "out"), 0o755); err != nil {
		t.Fatal(err)
	}

	batch := strings.Join([]string{
		"cd " + remote,
		"put " + filepath.Join(local, "small.txt") + " small.txt",
		"put " + filepath.Join(local, "empty") + " empty",
		"put " + filepath.Join(local, "big.bin") + " big.bin",
		"mkdir sub",
		"put " + filepath.Join(local, "small.txt") + " sub/again.txt",
		"ls -l",
		"rename sub/again.txt sub/moved.txt",
		"get big.bin " + filepath.Join(local, "out", "big.bin"),
		"get sub/moved.txt " + filepath.Join(local, "out", "moved.txt"),
		"rm small.txt",
		"pwd",
	}, "\n") + "\n"
	out, err := h.sftp(t, batch)
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Remote working directory: "+remote) {
		t.Errorf("sftp output lacks the working directory:\n%s", out)
	}

	sameFile(t, filepath.Join(remote, "big.bin"), big)
	sameFile(t, filepath.Join(remote, "empty"), nil)
	sameFile(t, filepath.Join(remote, "sub", "moved.txt"), small)
	absent(t, filepath.Join(remote, "small.txt"))
	absent(t, filepath.Join(remote, "sub", "again.txt"))
	sameFile(t, filepath.Join(local, "out", "big.bin"), big)
	sameFile(t, filepath.Join(local, "out", "moved.txt"), small)

	checkTransfers(t, h.sink.Transfers(), []transferKey{
		{store.ActionUpload, remote + "/small.txt", int64(len(small)), sum(small), true},
		{store.ActionUpload, remote + "/empty", 0, emptySum, true},
		{store.ActionUpload, remote + "/big.bin", int64(len(big)), sum(big), true},
		{store.ActionUpload, remote + "/sub/again.txt", int64(len(small)), sum(small), true},
		{store.ActionDownload, remote + "/big.bin", int64(len(big)), sum(big), true},
		{store.ActionDownload, remote + "/sub/moved.txt", int64(len(small)), sum(small), true},
	})
	if d := h.sink.Denials(); len(d) != 0 {
		t.Errorf("got denials %+v, want none", d)
	}
	for _, r := range h.Results() {
		if r.err != nil {
			t.Errorf("ServeSFTP returned %v, want nil", r.err)
		}
	}
}

// hasDenial reports whether a denial with op, path and reason was recorded.
func hasDenial(ds []Denial, op, path, reason string) bool {
	for _, d := range ds {
		if d.Op == op && d.Path == path && d.Reason == reason {
			return true
		}
	}
	return false
}

func TestSFTPPolicy(t *testing.T) {
	target := startTargetSSHD(t)
	tests := []struct {
		name          string
		policy        Policy
		batch         string // %R is the remote directory, %L the local one
		wantFail      bool
		wantTransfers []transferKey // %R in paths is replaced
		wantDenial    *Denial       // Op, Path, Reason compared
		check         func(t *testing.T, remote, local string)
	}{
		{
			name:     "download refused without download",
			policy:   Policy{Upload: true},
			batch:    "get %R/existing.txt %L/got.txt",
			wantFail: true,
			wantTransfers: []transferKey{
				{Direction: store.ActionDownload, Path: "%R/existing.txt"},
			},
			wantDenial: &Denial{Op: store.ActionDownload, Path: "%R/existing.txt", Reason: ReasonNoDownload},
			check: func(t *testing.T, remote, local string) {
				absent(t, filepath.Join(local, "got.txt"))
			},
		},
		{
			name:     "upload refused without upload",
			policy:   Policy{Download: true},
			batch:    "put %L/up.txt %R/new.txt",
			wantFail: true,
			wantTransfers: []transferKey{
				{Direction: store.ActionUpload, Path: "%R/new.txt"},
			},
			wantDenial: &Denial{Op: store.ActionUpload, Path: "%R/new.txt", Reason: ReasonNoUpload},
			check: func(t *testing.T, remote, local string) {
				absent(t, filepath.Join(remote, "new.txt"))
			},
		},
		{
			name:       "mkdir refused without upload",
			policy:     Policy{Download: true},
			batch:      "mkdir %R/newdir",
			wantFail:   true,
			wantDenial: &Denial{Op: "mkdir", Path: "%R/newdir", Reason: ReasonNoUpload},
			check: func(t *testing.T, remote, local string) {
				absent(t, filepath.Join(remote, "newdir"))
			},
		},
		{
			name:       "rm refused without upload",
			policy:     Policy{Download: true},
			batch:      "rm %R/existing.txt",
			wantFail:   true,
			wantDenial: &Denial{Op: "remove", Path: "%R/existing.txt", Reason: ReasonNoUpload},
			check: func(t *testing.T, remote, local string) {
				sameFile(t, filepath.Join(remote, "existing.txt"), []byte("existing\n"))
			},
		},
		{
			name:       "rename refused without upload",
			policy:     Policy{Download: true},
			batch:      "rename %R/existing.txt %R/renamed.txt",
			wantFail:   true,
			wantDenial: &Denial{Op: "rename", Path: "%R/existing.txt", Reason: ReasonNoUpload},
			check: func(t *testing.T, remote, local string) {
				absent(t, filepath.Join(remote, "renamed.txt"))
			},
		},
		{
			name:       "chmod refused without upload",
			policy:     Policy{Download: true},
			batch:      "chmod 600 %R/existing.txt",
			wantFail:   true,
			wantDenial: &Denial{Op: "setstat", Path: "%R/existing.txt", Reason: ReasonNoUpload},
			check: func(t *testing.T, remote, local string) {
				fi, err := os.Stat(filepath.Join(remote, "existing.txt"))
				if err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("got mode %v (%v), want 0644", fi.Mode().Perm(), err)
				}
			},
		},
		{
			name:       "symlink refused without upload",
			policy:     Policy{Download: true},
			batch:      "symlink %R/existing.txt %R/ln",
			wantFail:   true,
			wantDenial: &Denial{Op: "symlink", Path: "%R/ln", Reason: ReasonNoUpload},
			check: func(t *testing.T, remote, local string) {
				absent(t, filepath.Join(remote, "ln"))
			},
		},
		{
			name:   "listing and stat allowed without any action",
			policy: Policy{},
			batch:  "ls -l %R\ncd %R\nls existing.txt\ndf -h .",
		},
		{
			name:   "upload allowed, mkdir and chmod too",
			policy: Policy{Upload: true},
			batch:  "put %L/up.txt %R/new.txt\nmkdir %R/d\nchmod 600 %R/new.txt\nsymlink new.txt %R/ln",
			wantTransfers: []transferKey{
				{store.ActionUpload, "%R/new.txt", 3, sum([]byte("up\n")), true},
			},
			check: func(t *testing.T, remote, local string) {
				sameFile(t, filepath.Join(remote, "new.txt"), []byte("up\n"))
				fi, err := os.Stat(filepath.Join(remote, "new.txt"))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("got mode %v (%v), want 0600", fi.Mode().Perm(), err)
				}
				if l, err := os.Readlink(filepath.Join(remote, "ln")); err != nil || l != "new.txt" {
					t.Errorf("got link %q (%v), want new.txt", l, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote, local := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(remote, "existing.txt"), []byte("existing\n"))
			writeFile(t, filepath.Join(local, "up.txt"), []byte("up\n"))
			subst := strings.NewReplacer("%R", remote, "%L", local)
			h := newHarness(t, target, Options{Policy: tt.policy})

			out, err := h.sftp(t, subst.Replace(tt.batch)+"\n")
			if gotFail := err != nil; gotFail != tt.wantFail {
				t.Fatalf("sftp failed: got %v, want %v (%v)\n%s", gotFail, tt.wantFail, err, out)
			}
			if tt.wantFail && !strings.Contains(out, "Permission denied") {
				t.Errorf("sftp output lacks Permission denied:\n%s", out)
			}
			var want []transferKey
			for _, k := range tt.wantTransfers {
				k.Path = subst.Replace(k.Path)
				want = append(want, k)
			}
			checkTransfers(t, h.sink.Transfers(), want)
			ds := h.sink.Denials()
			if tt.wantDenial == nil && len(ds) != 0 {
				t.Errorf("got denials %+v, want none", ds)
			}
			if w := tt.wantDenial; w != nil && !hasDenial(ds, w.Op, subst.Replace(w.Path), w.Reason) {
				t.Errorf("got denials %+v, want one with op %s, path %s, reason %s", ds, w.Op, subst.Replace(w.Path), w.Reason)
			}
			for _, d := range ds {
				if d.SessionID != testTemplate.SessionID || d.Username != testTemplate.Username || d.Time.IsZero() {
					t.Errorf("denial %+v: identity or time missing", d)
				}
			}
			if tt.check != nil {
				tt.check(t, remote, local)
			}
		})
	}
}

func TestSFTPRoot(t *testing.T) {
	target := startTargetSSHD(t)
	base, local := t.TempDir(), t.TempDir()
	jail := filepath.Join(base, "jail")
	writeFile(t, filepath.Join(jail, "in.txt"), []byte("inside\n"))
	writeFile(t, filepath.Join(base, "secret.txt"), []byte("secret\n"))
	writeFile(t, filepath.Join(local, "up.txt"), []byte("up\n"))
	for link, to := range map[string]string{"link": filepath.Join(base, "secret.txt"), "dirlink": base, "dangling": filepath.Join(base, "made-through-link")} {
		if err := os.Symlink(to, filepath.Join(jail, link)); err != nil {
			t.Fatal(err)
		}
	}
	subst := strings.NewReplacer("%B", base, "%J", jail, "%L", local)

	tests := []struct {
		name     string
		batch    string
		wantFail bool
		wantOut  string
	}{
		{name: "starts in root", batch: "pwd", wantOut: "Remote working directory: %J"},
		{name: "get inside", batch: "get in.txt %L/in.txt"},
		{name: "put inside", batch: "put %L/up.txt up.txt"},
		{name: "ls inside", batch: "ls -l", wantOut: "in.txt"},
		{name: "get dot dot relative", batch: "get ../secret.txt %L/x", wantFail: true},
		{name: "get dot dot to etc passwd", batch: "get ../../../../../etc/passwd %L/x", wantFail: true},
		{name: "get dot dot inside a path", batch: "get %J/../secret.txt %L/x", wantFail: true},
		{name: "get absolute outside", batch: "get /etc/passwd %L/x", wantFail: true},
		{name: "get through a file symlink", batch: "get link %L/x", wantFail: true},
		{name: "get through a directory symlink", batch: "get dirlink/secret.txt %L/x", wantFail: true},
		{name: "ls parent", batch: "ls ..", wantFail: true},
		{name: "cd outside", batch: "cd %B", wantFail: true},
		{name: "put outside", batch: "put %L/up.txt ../evil.txt", wantFail: true},
		{name: "put through a directory symlink", batch: "put %L/up.txt dirlink/evil.txt", wantFail: true},
		{name: "put through a dangling symlink", batch: "put %L/up.txt dangling", wantFail: true},
		{name: "symlink pointing outside", batch: "symlink /etc/passwd ln2", wantFail: true},
		{name: "rename out of root", batch: "rename in.txt ../moved.txt", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}, Root: jail})
			out, err := h.sftp(t, subst.Replace(tt.batch)+"\n")
			if gotFail := err != nil; gotFail != tt.wantFail {
				t.Fatalf("sftp failed: got %v, want %v (%v)\n%s", gotFail, tt.wantFail, err, out)
			}
			if tt.wantOut != "" && !strings.Contains(out, subst.Replace(tt.wantOut)) {
				t.Errorf("sftp output lacks %q:\n%s", subst.Replace(tt.wantOut), out)
			}
			ds := h.sink.Denials()
			if tt.wantFail {
				found := false
				for _, d := range ds {
					found = found || d.Reason == ReasonOutsideRoot
				}
				if !found {
					t.Errorf("got denials %+v, want one for %q", ds, ReasonOutsideRoot)
				}
				for _, tr := range h.sink.Transfers() {
					if tr.Allowed {
						t.Errorf("got allowed transfer %+v in a refused operation", tr)
					}
				}
			} else if len(ds) != 0 {
				t.Errorf("got denials %+v, want none", ds)
			}
		})
	}
	absent(t, filepath.Join(base, "evil.txt"))
	absent(t, filepath.Join(base, "made-through-link"))
	absent(t, filepath.Join(base, "moved.txt"))
	absent(t, filepath.Join(local, "x"))
	sameFile(t, filepath.Join(local, "in.txt"), []byte("inside\n"))
	sameFile(t, filepath.Join(jail, "up.txt"), []byte("up\n"))
}

func TestSFTPMaxFileSize(t *testing.T) {
	target := startTargetSSHD(t)
	remote, local := t.TempDir(), t.TempDir()
	big := randomBytes(2<<20, 2)
	writeFile(t, filepath.Join(local, "big.bin"), big)
	writeFile(t, filepath.Join(remote, "big.bin"), big)
	h := newHarness(t, target, Options{Policy: Policy{Upload: true, Download: true}, MaxFileSize: 1 << 20})

	if out, err := h.sftp(t, "put "+filepath.Join(local, "big.bin")+" "+remote+"/up.bin\n"); err == nil {
		t.Errorf("put of 2 MiB over a 1 MiB limit succeeded:\n%s", out)
	}
	if out, err := h.sftp(t, "get "+remote+"/big.bin "+local+"/down.bin\n"); err == nil {
		t.Errorf("get of 2 MiB over a 1 MiB limit succeeded:\n%s", out)
	}
	absent(t, filepath.Join(local, "down.bin"))
	ds := h.sink.Denials()
	if !hasDenial(ds, store.ActionUpload, remote+"/up.bin", ReasonSizeLimit) || !hasDenial(ds, store.ActionDownload, remote+"/big.bin", ReasonSizeLimit) {
		t.Errorf("got denials %+v, want size-limit denials for both directions", ds)
	}
	for _, tr := range h.sink.Transfers() {
		if tr.Allowed {
			t.Errorf("got allowed transfer %+v, want every transfer refused", tr)
		}
		if tr.Direction == store.ActionUpload && tr.Size > 1<<20 {
			t.Errorf("upload moved %d bytes past the limit", tr.Size)
		}
	}
	if fi, err := os.Stat(filepath.Join(remote, "up.bin")); err == nil && fi.Size() > 1<<20 {
		t.Errorf("target file is %d bytes, want at most the limit", fi.Size())
	}
}

func TestSFTPServerExec(t *testing.T) {
	// "sftp -s /usr/lib/openssh/sftp-server" asks for an exec instead of the
	// subsystem; it must be served (and checked) the same way.
	target := startTargetSSHD(t)
	remote, local := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(remote, "f.txt"), []byte("f\n"))
	h := newHarness(t, target, Options{Policy: Policy{Upload: true}})
	out, err := h.sftp(t, "get "+remote+"/f.txt "+local+"/f.txt\n", "-s", "/usr/lib/openssh/sftp-server")
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("get through sftp-server exec: got %v, want Permission denied\n%s", err, out)
	}
	checkTransfers(t, h.sink.Transfers(), []transferKey{{Direction: store.ActionDownload, Path: remote + "/f.txt"}})
}
