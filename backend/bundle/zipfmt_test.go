package bundle

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDosTime(t *testing.T) {
	tests := []struct {
		name     string
		t        time.Time
		tm, date uint16
	}{
		{"a time in UTC", time.Date(2026, 1, 12, 9, 30, 17, 0, time.UTC), 9<<11 | 30<<5 | 8, 46<<9 | 1<<5 | 12},
		{"another zone is taken to UTC", time.Date(2026, 1, 12, 10, 30, 17, 0, time.FixedZone("CET", 3600)), 9<<11 | 30<<5 | 8, 46<<9 | 1<<5 | 12},
		{"before 1980", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0, 1<<5 | 1},
		{"after 2107", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 23<<11 | 59<<5 | 29, 127<<9 | 12<<5 | 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, date := dosTime(tt.t)
			if tm != tt.tm || date != tt.date {
				t.Errorf("got %#04x %#04x, want %#04x %#04x", tm, date, tt.tm, tt.date)
			}
		})
	}
}

// TestZip64Layout writes the headers of a bundle larger than 4 GiB into a sparse file
// and reads them with archive/zip: the ZIP64 fields a bundle of a long recording
// needs are where other readers look for them, and parse back the same.
func TestZip64Layout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tm, date := dosTime(time.Date(2026, 1, 12, 9, 30, 0, 0, time.UTC))
	entries := []zipEntry{
		{name: NameCast, method: methodDeflate, flags: flagDescriptor, crc: 0x12345678, csize: 5 << 30, usize: 7 << 30},
		{name: NameSession, method: methodDeflate, flags: flagDescriptor, crc: 1, csize: 100, usize: 300},
		{name: NameManifest, method: methodStore, crc: 2, csize: 50, usize: 50},
	}
	var off uint64
	for i := range entries {
		e := &entries[i]
		e.modTime, e.modDate, e.offset = tm, date, off
		if _, err := f.WriteAt(localHeader(*e), int64(off)); err != nil {
			t.Fatal(err)
		}
		off += uint64(len(localHeader(*e))) + e.csize
		if e.flags&flagDescriptor != 0 {
			off += uint64(len(dataDescriptor(*e)))
		}
	}
	if got := len(dataDescriptor(entries[0])); got != descriptor64 {
		t.Errorf("descriptor of a 7 GiB entry has %d bytes, want %d", got, descriptor64)
	}
	if got := len(dataDescriptor(entries[1])); got != descriptorLen {
		t.Errorf("descriptor of a small entry has %d bytes, want %d", got, descriptorLen)
	}
	cdOffset := off
	var cd []byte
	for _, e := range entries {
		cd = append(cd, centralRecord(e)...)
	}
	tail := append(cd, endRecords(len(entries), cdOffset, uint64(len(cd)))...)
	if _, err := f.WriteAt(tail, int64(cdOffset)); err != nil {
		t.Fatal(err)
	}
	size := int64(cdOffset) + int64(len(tail))

	zr, err := zip.NewReader(f, size)
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != len(entries) {
		t.Fatalf("archive/zip sees %d files, want %d", len(zr.File), len(entries))
	}
	for i, zf := range zr.File {
		e := entries[i]
		off, err := zf.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if zf.Name != e.name || zf.CRC32 != e.crc || zf.CompressedSize64 != e.csize || zf.UncompressedSize64 != e.usize ||
			off != int64(e.offset)+int64(localLen+len(e.name)) || zf.Method != e.method {
			t.Errorf("archive/zip reads entry %d as %s crc %x sizes %d/%d data at %d, want %+v", i, zf.Name, zf.CRC32, zf.CompressedSize64, zf.UncompressedSize64, off, e)
		}
	}

	if unzip, err := exec.LookPath("unzip"); err == nil {
		out, err := exec.Command(unzip, "-l", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "7516192768") {
			t.Errorf("unzip -l: %v\n%s", err, out)
		}
	}

	// And the package's own parser agrees.
	buf := make([]byte, min(size, maxTail))
	if _, err := f.ReadAt(buf, size-int64(len(buf))); err != nil {
		t.Fatal(err)
	}
	end, ok, err := findEnd(buf, size-int64(len(buf)), func(off int64, n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := f.ReadAt(b, off)
		return b, err
	})
	if err != nil || !ok || end.count != 3 || end.cdOffset != cdOffset || end.cdSize != uint64(len(cd)) || end.fileEnd != size {
		t.Fatalf("findEnd = %+v %v %v", end, ok, err)
	}
	parsed, _, ok := parseCentral(cd, 3)
	if !ok {
		t.Fatal("parseCentral failed")
	}
	for i := range parsed {
		if parsed[i] != entries[i] {
			t.Errorf("parsed %+v, want %+v", parsed[i], entries[i])
		}
	}
}
