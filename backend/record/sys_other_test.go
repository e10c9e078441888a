//go:build !unix

package record_test

import (
	"testing"
	"time"
)

func asciinemaCat(t *testing.T, path string) (string, error) {
	t.Skip("asciinema needs a Unix tty")
	return "", nil
}

func processCPU() time.Duration { return 0 }
