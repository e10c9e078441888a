package session

import (
	"bytes"
	"fmt"
	"testing"
)

func BenchmarkRenderSnapshot(b *testing.B) {
	var out bytes.Buffer
	for i := 0; out.Len() < DefaultRingSize; i++ {
		fmt.Fprintf(&out, "\x1b[32muser@web01\x1b[0m:~$ ls -la /var/log/%d\r\ntotal 1234 drwxr-xr-x 2 root root 4096 file-%d.log\r\n", i, i)
	}
	data := out.Bytes()[:DefaultRingSize]
	for _, sz := range []struct{ cols, rows int }{{80, 24}, {250, 70}} {
		b.Run(fmt.Sprintf("%dx%d", sz.cols, sz.rows), func(b *testing.B) {
			for b.Loop() {
				renderSnapshot(data, true, sz.cols, sz.rows)
			}
		})
	}
}

func BenchmarkOutputWithoutWatchers(b *testing.B) {
	r := NewRegistry(nil, nil, nil, nil, "n")
	l := newLive(r, Meta{ID: "x", Width: 80, Height: 24})
	p := bytes.Repeat([]byte("x"), 32<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		l.Output(p)
	}
}

func BenchmarkOutputWithOneWatcher(b *testing.B) {
	r := NewRegistry(nil, nil, nil, nil, "n")
	l := newLive(r, Meta{ID: "x", Width: 80, Height: 24})
	ch, cancel := l.Watch()
	defer cancel()
	go func() {
		for range ch {
		}
	}()
	p := bytes.Repeat([]byte("x"), 32<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		l.Output(p)
	}
}
