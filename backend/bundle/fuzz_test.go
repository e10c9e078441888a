package bundle_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/bundle"
)

// tinyBundle returns the smallest bundle the tests make (1.5 KB): the fuzzer minimizes
// every input that finds new code, and that costs time in proportion to its size.
func tinyBundle(tb testing.TB) []byte {
	tb.Helper()
	data, _ := writeBundle(tb, bundle.Contents{
		Metadata:      bundle.Metadata{SessionID: "s", ExportedAt: t0},
		Recording:     strings.NewReader("4.sync,1.0;"),
		RecordingName: "s.guac",
		Index:         strings.NewReader("i"),
	}, testSigner(tb))
	return data
}

// checkFuzzReport fails the test when a report breaks Verify's promises: with the
// server's fingerprint trusted only the server's bundle verifies (the fuzzer cannot
// forge a signature, so any other input that verifies is a hole in the checks), a
// failure says why, and no problem carries control characters.
func checkFuzzReport(t *testing.T, data, orig []byte, rep bundle.Report, err error) {
	t.Helper()
	if err != nil {
		if rep.Verified {
			t.Fatalf("error %v with a verified report", err)
		}
		return
	}
	if rep.Verified && !bytes.Equal(data, orig) {
		t.Fatalf("an input other than the server's bundle verified:\n%v", rep)
	}
	if !rep.Verified && len(rep.Problems) == 0 {
		t.Fatal("not verified, and no problem said why")
	}
	for _, p := range rep.Problems {
		if p == "" || strings.ContainsAny(p, "\x00\x1b\r\n") {
			t.Fatalf("problem %q is empty or carries control characters", p)
		}
	}
	_ = rep.String()
}

// FuzzVerify feeds Verify random bytes and mutated bundles: it must never panic, and
// only the server's own bundle may verify.
func FuzzVerify(f *testing.F) {
	orig := tinyBundle(f)
	fp := testSigner(f).Fingerprint()
	f.Add(orig)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		m := bytes.Clone(orig)
		m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
		f.Add(m)
	}
	f.Add(orig[:len(orig)/2])
	f.Add(orig[:len(orig)-1])
	f.Add(append(bytes.Clone(orig), "PK\x05\x06"...))
	f.Add(repack(f, unpack(f, orig)))
	f.Add(repack(f, append(unpack(f, orig), zfile{name: "../../etc/passwd", data: []byte("x")})))
	f.Add([]byte{})
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00"))
	random := make([]byte, 256)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	f.Add(random)

	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := verifyBytes(t, data, fp)
		checkFuzzReport(t, data, orig, rep, err)
	})
}

// FuzzVerifyEdits edits a bundle of the server's: xor one byte, delete a run of bytes,
// insert bytes. The inputs are a few bytes long, so the fuzzer spends its time on
// edits rather than on minimizing whole bundles. No edit may verify.
func FuzzVerifyEdits(f *testing.F) {
	orig := smallBundle(f)
	fp := testSigner(f).Fingerprint()
	f.Add(uint32(0), byte(0), uint32(0), uint16(0), []byte(nil))
	f.Add(uint32(100), byte(1), uint32(0), uint16(0), []byte(nil))
	f.Add(uint32(len(orig)-30), byte(0x80), uint32(0), uint16(0), []byte(nil))
	f.Add(uint32(0), byte(0), uint32(len(orig)-22), uint16(22), []byte(nil))
	f.Add(uint32(0), byte(0), uint32(len(orig)), uint16(0), []byte("PK\x05\x06"))
	f.Add(uint32(0), byte(0), uint32(500), uint16(3), []byte("abc"))
	f.Fuzz(func(t *testing.T, at uint32, xor byte, delAt uint32, delLen uint16, ins []byte) {
		data := bytes.Clone(orig)
		if len(data) > 0 {
			data[int(at)%len(data)] ^= xor
		}
		i := int(delAt) % (len(data) + 1)
		j := min(len(data), i+int(delLen))
		data = append(data[:i:i], append(bytes.Clone(ins), data[j:]...)...)
		rep, err := verifyBytes(t, data, fp)
		checkFuzzReport(t, data, orig, rep, err)
	})
}

// FuzzVerifyUntrusted: without trusted keys any well-signed bundle verifies; Verify
// still must not panic, and a verified report names who signed it.
func FuzzVerifyUntrusted(f *testing.F) {
	f.Add(tinyBundle(f))
	forged, _ := writeBundle(f, bundle.Contents{Metadata: sampleMetadata(), Recording: strings.NewReader("x"), RecordingName: "x.guac"}, forgerSigner(f))
	f.Add(forged)
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := verifyBytes(t, data)
		if err == nil && rep.Verified && !strings.HasPrefix(rep.Fingerprint, "SHA256:") {
			t.Fatalf("verified without a fingerprint: %+v", rep)
		}
	})
}
