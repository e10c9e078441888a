package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/bundle"
)

// writeTestBundle writes a bundle signed with the key of seed and returns its path.
func writeTestBundle(t *testing.T, dir, name string, seed byte) (string, *bundle.Signer) {
	t.Helper()
	s := bundle.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	var buf bytes.Buffer
	_, err := bundle.Write(context.Background(), &buf, bundle.Contents{
		Metadata:      bundle.Metadata{SessionID: "s-1", Username: "alice", ExportedAt: time.Date(2026, 1, 12, 9, 30, 0, 0, time.UTC)},
		Recording:     strings.NewReader(`{"version": 2, "width": 80, "height": 24}` + "\n" + `[0.1, "o", "hello\r\n"]` + "\n"),
		RecordingName: "s-1.cast",
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, s
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	good, server := writeTestBundle(t, dir, "good.zip", 1)
	forged, forger := writeTestBundle(t, dir, "forged.zip", 2)
	data, _ := os.ReadFile(good)
	data[len(data)/3] ^= 0x01
	tampered := filepath.Join(dir, "tampered.zip")
	os.WriteFile(tampered, data, 0o600)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a bundle"), 0o600)
	keyFile := filepath.Join(dir, "server.pub")
	os.WriteFile(keyFile, []byte(server.PublicKeyText()+"\n"), 0o600)
	fp := server.Fingerprint()

	tests := []struct {
		name       string
		args       []string
		code       int      // exit status: 0 when run returns nil
		stdout     []string // in this order
		stderr     string
		notInStdio string
	}{
		{"verified, trusting the fingerprint", []string{"verify", "--trust", fp, good}, 0,
			[]string{good + ": verified, signed by " + fp + "\n"}, "", "note:"},
		{"trusting the public key line", []string{"verify", "--trust=" + server.PublicKeyText(), good}, 0,
			[]string{"verified, signed by " + fp}, "", ""},
		{"trusting a key file, flag after the bundle", []string{"verify", good, "--trust", keyFile}, 0,
			[]string{"verified, signed by " + fp}, "", ""},
		{"no --trust: verified, with a note", []string{"verify", forged}, 0,
			[]string{forged + ": verified, signed by " + forger.Fingerprint()}, "note: no --trust given", ""},
		{"forged, trusting the server", []string{"verify", "--trust", fp, forged}, 1,
			[]string{forged + ": NOT verified:\n  - the bundle is signed by " + forger.Fingerprint() + ", which is not a trusted key"}, "1 of 1 bundles NOT verified", ""},
		{"tampered", []string{"verify", tampered}, 1,
			[]string{tampered + ": NOT verified:\n  - "}, "NOT verified", ""},
		{"one of two fails", []string{"verify", "--trust", fp, good, tampered}, 1,
			[]string{good + ": verified", tampered + ": NOT verified"}, "1 of 2 bundles NOT verified", ""},
		{"not a bundle", []string{"verify", text}, 1,
			[]string{text + ": NOT verified:\n  - not a Portcullis bundle: not a zip file"}, "", ""},
		{"missing file", []string{"verify", filepath.Join(dir, "missing.zip")}, 2,
			[]string{"missing.zip: cannot verify: open"}, "could not be read", ""},
		{"no bundle", []string{"verify"}, 2, nil, "no bundle given", ""},
		{"bad --trust", []string{"verify", "--trust", "nonsense", good}, 2, nil, "want a fingerprint", ""},
		{"unknown flag", []string{"verify", "--frobnicate", good}, 2, nil, "flag provided but not defined", ""},
		{"help", []string{"verify", "--help"}, 0, []string{"Usage: portcullisd verify [--trust KEY]... BUNDLE..."}, "", ""},
		{"listed in the main help", []string{"help"}, 0, []string{"verify    check exported session bundles"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr, func(string) string { return "" })
			code := 0
			if err != nil {
				code = exitCode(err)
				stderr.WriteString("portcullisd: " + err.Error() + "\n") // as main prints it
			}
			if code != tt.code {
				t.Errorf("exit status %d (%v), want %d\nstdout: %s\nstderr: %s", code, err, tt.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			for _, want := range tt.stdout {
				i := strings.Index(out, want)
				if i < 0 {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
					continue
				}
				out = out[i+len(want):]
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
			if tt.notInStdio != "" && strings.Contains(stdout.String()+stderr.String(), tt.notInStdio) {
				t.Errorf("output has %q:\n%s%s", tt.notInStdio, stdout.String(), stderr.String())
			}
		})
	}
}
