package storage

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"recording", "2026/11/28/0b6f3c.cast.gz", true},
		{"index", "2026/11/28/0b6f3c.cast.gz.idx", true},
		{"desktop", "2026/11/28/0b6f3c.guac", true},
		{"top level", "a.cast.gz", true},
		{"dot inside name", "2026/..hidden/x", true},
		{"empty", "", false},
		{"absolute", "/etc/passwd", false},
		{"parent", "../x", false},
		{"parent inside", "2026/../../x", false},
		{"parent at end", "2026/..", false},
		{"dot element", "2026/./x", false},
		{"double slash", "2026//x", false},
		{"trailing slash", "2026/", false},
		{"backslash", `2026\x`, false},
		{"windows parent", `..\x`, false},
		{"NUL", "a\x00b", false},
		{"newline", "a\nb", false},
		{"not UTF-8", "a\xffb", false},
		{"too long", strings.Repeat("a", maxKeyLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateKey(tt.key)
			if got := err == nil; got != tt.ok {
				t.Fatalf("ValidateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
		})
	}
}

// FuzzValidateKey checks that every accepted key is a clean relative path
// that cannot leave the directory it is joined to.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"2026/11/28/a.cast.gz", "../x", "a//b", "/a", `a\b`, "a/./b", "..", "a/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		if path.Clean(key) != key || path.IsAbs(key) || key == "." {
			t.Fatalf("accepted %q, which is not clean (%q)", key, path.Clean(key))
		}
		if !strings.HasPrefix(path.Join("/root", key), "/root/") {
			t.Fatalf("accepted %q, which leaves the directory", key)
		}
		if strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("accepted %q with a backslash or NUL", key)
		}
	})
}

func TestQueueFileRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	key := "2026/11/28/s1.cast.gz"
	rec, err := decodeQueueFile(queueName(key), encodeQueueFile(key, when))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if rec.Key != key || !rec.Enqueued.Equal(when) {
		t.Fatalf("got %+v, want key %q enqueued %v", rec, key, when)
	}
	bad := []struct {
		name string
		file string
		data string
	}{
		{"garbage", queueName(key), "\x00\x01not json"},
		{"truncated", queueName(key), `{"v":1,"key":"2026/11/28/s1.ca`},
		{"empty", queueName(key), ""},
		{"other version", queueName(key), `{"v":2,"key":"2026/11/28/s1.cast.gz"}`},
		{"bad key", queueName("../x"), `{"v":1,"key":"../x"}`},
		{"renamed", queueName("other"), string(encodeQueueFile(key, when))},
		{"huge", queueName(key), strings.Repeat(" ", maxQueueFile+1)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeQueueFile(tt.file, []byte(tt.data)); !errors.Is(err, errCorruptQueueFile) {
				t.Fatalf("got %v, want errCorruptQueueFile", err)
			}
		})
	}
}

// FuzzDecodeQueueFile checks that the queue file parser never panics and
// only accepts valid keys stored under their own name.
func FuzzDecodeQueueFile(f *testing.F) {
	key := "2026/11/28/s1.cast.gz"
	f.Add(queueName(key), encodeQueueFile(key, time.Unix(0, 0)))
	f.Add(queueName(key), []byte(`{"v":1,"key":"../x"}`))
	f.Add("x.job", []byte("{"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		rec, err := decodeQueueFile(name, data)
		if err != nil {
			return
		}
		if ValidateKey(rec.Key) != nil || queueName(rec.Key) != name {
			t.Fatalf("accepted %+v as %q", rec, name)
		}
	})
}
