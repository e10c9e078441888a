package record_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

// terminalText makes n bytes of what a terminal typically shows: directory listings
// with colours, log lines, prose with some non-ASCII.
func terminalText(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields(`the of and to in is that for it as was with be by on not he this are or his from at
		which but have an they you were her she there been one all we their has would when if so no out up
		into do time only could new them man some these then two first may any like now my such make over
		our even most me state after also made many did must before back see through way where get much go
		well your know should down work year because come people just say each those take day good how long
		server request session deploy config build release café naïve 日本語 überprüfen données résumé`)
	files := strings.Fields(`main.go go.mod README.md Makefile docs build vendor cmd internal pkg scripts
		notes.txt backup.tar.gz id_ed25519.pub .bashrc .profile config.yaml data.db access.log`)
	var b strings.Builder
	for b.Len() < n {
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "\x1b[01;34mdrwxr-xr-x\x1b[0m %2d root root %6d Nov %2d %02d:%02d \x1b[01;32m%s\x1b[0m\r\n",
				rng.IntN(20), rng.IntN(100000), 1+rng.IntN(30), rng.IntN(24), rng.IntN(60), files[rng.IntN(len(files))])
		case 1:
			fmt.Fprintf(&b, "2026-11-27T10:%02d:%02d.%03dZ \x1b[32mINFO\x1b[0m request id=%08x path=/api/v1/%s status=%d dur=%dms\r\n",
				rng.IntN(60), rng.IntN(60), rng.IntN(1000), rng.Uint32(), words[rng.IntN(len(words))], 200+rng.IntN(4)*100, rng.IntN(900))
		default:
			for i := 0; i < 8+rng.IntN(10); i++ {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			b.WriteString("\r\n")
		}
	}
	return []byte(b.String()[:n])
}

// BenchmarkOutput measures the whole recording pipeline for 32 KiB writes (a relay's
// read size): Output on the caller's goroutine, escaping and gzip on the writer's, up to
// Close, onto a real file with the default flush and fsync. FailClosed with a long
// stall timeout makes it measure sustained throughput rather than how much is dropped.
// Metrics: MB/s of terminal output recorded, out/in (bytes on disk per byte of output),
// cpu-ns/B (CPU time of the whole process per byte of output, all goroutines: what the
// recorder takes from the relay on a busy machine).
func BenchmarkOutput(b *testing.B) {
	const chunk = 32 << 10
	random := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{9}).Read(random)
	inputs := []struct {
		name string
		data []byte
	}{
		{"text", terminalText(8 << 20)},
		{"random", random},
		{"nul", make([]byte, 8<<20)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.cast.gz")
			w, err := record.CreateCast(path, record.Header{Width: 80, Height: 24},
				record.CastOptions{Policy: record.FailClosed, StallTimeout: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(chunk)
			b.ResetTimer()
			cpu := processCPU()
			off := 0
			for i := 0; i < b.N; i++ {
				if off+chunk > len(in.data) {
					off = 0
				}
				w.Output(in.data[off : off+chunk])
				off += chunk
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu = processCPU() - cpu
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Size())/float64(b.N*chunk), "out/in")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*chunk), "cpu-ns/B")
			if w.Dropped() != 0 {
				b.Fatalf("dropped %d bytes", w.Dropped())
			}
		})
	}
}

// BenchmarkOutputCall measures what the relay's data path pays per 32 KiB of output:
// one Output call (a copy into the batch) with the default fail-open policy, while the
// writer runs on another goroutine; dropped/B says how much it could not keep up with.
func BenchmarkOutputCall(b *testing.B) {
	const chunk = 32 << 10
	data := terminalText(8 << 20)
	path := filepath.Join(b.TempDir(), "bench.cast.gz")
	w, err := record.CreateCast(path, record.Header{Width: 80, Height: 24}, record.CastOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(chunk)
	b.ResetTimer()
	off := 0
	for i := 0; i < b.N; i++ {
		if off+chunk > len(data) {
			off = 0
		}
		w.Output(data[off : off+chunk])
		off += chunk
	}
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Dropped())/float64(b.N*chunk), "dropped/B")
}
