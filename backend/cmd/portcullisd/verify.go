package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/portcullis/portcullis/backend/bundle"
)

const verifyUsage = `Usage: portcullisd verify [--trust KEY]... BUNDLE...

Checks signed session bundles (exported from the Recordings page) offline and says
"verified, signed by SHA256:..." or what was altered.

  --trust KEY   accept only bundles signed by this key: its fingerprint (SHA256:...),
                its public key line (ssh-ed25519 AAAA... as the settings page shows
                it) or a file holding that line. May be repeated. Without --trust any
                intact bundle verifies: compare the fingerprint it prints with your
                server's.

Exit status: 0 if every bundle verified, 1 if one did not, 2 for usage or I/O errors.
`

// errUsage marks errors for which portcullisd exits with status 2 (bad usage, files
// that cannot be read) rather than 1.
var errUsage = errors.New("usage")

// exitCode returns the exit status for an error returned by run.
func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// usageError wraps err so that exitCode returns 2, keeping its message.
type usageError struct{ err error }

func (e usageError) Error() string         { return e.err.Error() }
func (e usageError) Unwrap() []error       { return []error{e.err, errUsage} }
func usageErrorf(f string, a ...any) error { return usageError{fmt.Errorf(f, a...)} }

// verifyCmd runs `portcullisd verify`.
func verifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var trusted []string
	fs.Func("trust", "", func(v string) error {
		fp, err := trustedFingerprint(v)
		if err != nil {
			return err
		}
		trusted = append(trusted, fp)
		return nil
	})
	// Flags may come before, between or after the bundles.
	var paths []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, verifyUsage)
				return nil
			}
			fmt.Fprint(stderr, verifyUsage)
			return usageErrorf("verify: %w", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		paths = append(paths, rest[0])
		rest = rest[1:]
	}
	if len(paths) == 0 {
		fmt.Fprint(stderr, verifyUsage)
		return usageErrorf("verify: no bundle given")
	}

	var failed, broken int
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := verifyFile(ctx, path, trusted)
		switch {
		case errors.Is(err, bundle.ErrNotBundle):
			fmt.Fprintf(stdout, "%s: NOT verified:\n  - %s\n", path, strings.TrimPrefix(err.Error(), "bundle: "))
			failed++
		case err != nil:
			fmt.Fprintf(stdout, "%s: cannot verify: %v\n", path, err)
			broken++
		default:
			fmt.Fprintf(stdout, "%s: %s\n", path, rep)
			if !rep.Verified {
				failed++
			}
		}
	}
	if len(trusted) == 0 && failed+broken < len(paths) {
		fmt.Fprintln(stderr, "note: no --trust given: a bundle signed by any key verifies; check that the fingerprint is your server's (Settings page)")
	}
	switch {
	case broken > 0:
		return usageErrorf("verify: %d of %d bundles could not be read", broken, len(paths))
	case failed > 0:
		return fmt.Errorf("verify: %d of %d bundles NOT verified", failed, len(paths))
	}
	return nil
}

// verifyFile verifies the bundle at path.
func verifyFile(ctx context.Context, path string, trusted []string) (bundle.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return bundle.Report{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return bundle.Report{}, err
	}
	if !st.Mode().IsRegular() {
		return bundle.Report{}, fmt.Errorf("%s is not a regular file", path)
	}
	return bundle.Verify(ctx, f, st.Size(), trusted)
}

// trustedFingerprint turns a --trust value into a fingerprint: a fingerprint as it is,
// an ssh-ed25519 public key line, or a file holding one.
func trustedFingerprint(v string) (string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "SHA256:") {
		return v, nil
	}
	line := []byte(v)
	if !strings.HasPrefix(v, "ssh-") {
		data, err := os.ReadFile(v)
		if err != nil {
			return "", fmt.Errorf("want a fingerprint (SHA256:...), a public key line or a file holding one: %w", err)
		}
		line = data
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return "", fmt.Errorf("not a public key: %w", err)
	}
	if pk.Type() != ssh.KeyAlgoED25519 {
		return "", fmt.Errorf("a %s key: bundles are signed with ssh-ed25519 keys", pk.Type())
	}
	return ssh.FingerprintSHA256(pk), nil
}
