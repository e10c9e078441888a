//go:build !unix

package bundle_test

import "testing"

func asciinemaCat(t *testing.T, path string) (string, error) {
	t.Skip("asciinema needs a Unix tty")
	return "", nil
}
