package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/klauspost/compress/flate"
)

// Report is what Verify found.
type Report struct {
	// Verified is true when the bundle is exactly as its signer wrote it and, if
	// Verify was given trusted fingerprints, the signer is one of them.
	Verified bool
	// Fingerprint is the fingerprint of the public key in the manifest (computed from
	// the key, not copied from the manifest), or "" when there is none.
	Fingerprint string
	// Manifest is the manifest as read, even when the bundle does not verify.
	Manifest Manifest
	// Metadata is session.json as read, or nil when it is missing or does not parse.
	// Trust it only when Verified.
	Metadata *Metadata
	// Problems says in plain English what is wrong, one problem per entry.
	Problems []string
}

// String returns "verified, signed by SHA256:..." or "NOT verified:" followed by one
// problem per line.
func (r Report) String() string {
	if r.Verified {
		return "verified, signed by " + r.Fingerprint
	}
	var b strings.Builder
	b.WriteString("NOT verified:")
	for _, p := range r.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	if len(r.Problems) == 0 {
		b.WriteString("\n  - the bundle could not be checked")
	}
	return b.String()
}

// Verify checks the bundle of the given size read from r, without extracting it: the
// signature of manifest.json is valid for the public key in it (and, when trusted is
// not empty, that key's fingerprint is one of trusted); every file the manifest lists
// is there once with its size and SHA-256; there is no other file; and the zip
// container is byte for byte the one the signer wrote (doc.go). It returns an error
// only for I/O errors, a cancelled ctx, or a file that is not a bundle at all
// (ErrNotBundle); a bundle that was altered gives a Report that is not Verified and
// says why. Verify reads hostile input safely: see the limits MaxFiles, MaxFileSize,
// MaxManifestSize and MaxSessionSize.
func Verify(ctx context.Context, r io.ReaderAt, size int64, trusted []string) (Report, error) {
	v := newVerifier(ctx, r, size, trusted, defaultLimits())
	err := v.run()
	return v.report, err
}

// limits bound what a verifier reads. Tests lower them.
type limits struct {
	files    int
	fileSize int64
	manifest int64
	session  int64
	total    int64 // of all the content read, duplicates and second reads included
}

func defaultLimits() limits {
	return limits{files: MaxFiles, fileSize: MaxFileSize, manifest: MaxManifestSize, session: MaxSessionSize,
		// A recording and an index of the largest size, and the rest (the manifest and
		// its signature are read twice).
		total: 2*MaxFileSize + MaxSessionSize + 2*(MaxManifestSize+maxSigSize)}
}

// located is where the data of an entry is, for reading it later (Bundle).
type located struct {
	dataStart    int64
	method       uint16
	csize, usize uint64
}

// verifier holds the state of one Verify.
type verifier struct {
	ctx     context.Context
	r       io.ReaderAt
	size    int64
	trusted []string
	lim     limits

	report     Report
	seen       map[string]bool // the problems reported
	more       int             // problems not listed, past maxProblems
	structural []string        // differences of the zip container from the signed layout

	end     endInfo
	entries []zipEntry // as the central directory lists them
	raws    [][]byte   // each one's central record as found
	first   map[string]int
	found   map[string]located // first entry of each name whose data could be located

	budget int64 // bytes of content left to read: a bundle of many big files stops

	br  *bufio.Reader // reused for every deflated entry
	fr  io.ReadCloser // the decompressor reading br
	buf []byte        // the copy buffer

	manifestOK  bool // manifest.json parsed and its signature is valid
	manifestPos int64
	tm, dt      uint16 // the MS-DOS time of created_at, when the manifest parsed
	timeKnown   bool
}

func newVerifier(ctx context.Context, r io.ReaderAt, size int64, trusted []string, lim limits) *verifier {
	return &verifier{ctx: ctx, r: r, size: size, trusted: trusted, lim: lim, budget: lim.total,
		first: map[string]int{}, found: map[string]located{}, seen: map[string]bool{}, manifestPos: -1}
}

// errOutside is returned by readAt for a range outside the file.
var errOutside = errors.New("bundle: read outside the file")

func (v *verifier) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > v.size || int64(n) > v.size-off {
		return nil, errOutside
	}
	b := make([]byte, n)
	got, err := v.r.ReadAt(b, off)
	if got == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("bundle: read at %d: %w", off, err)
}

// maxProblems is the most problems a report lists; a count of the others follows.
const maxProblems = 50

// problem reports a problem, once.
func (v *verifier) problem(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	if v.seen[p] {
		return
	}
	v.seen[p] = true
	if len(v.report.Problems) < maxProblems {
		v.report.Problems = append(v.report.Problems, p)
	} else {
		v.more++
	}
}

func (v *verifier) differs(format string, args ...any) {
	v.structural = append(v.structural, fmt.Sprintf(format, args...))
}

// run checks the bundle and fills v.report.
func (v *verifier) run() error {
	if v.size < 0 {
		return fmt.Errorf("bundle: negative size %d", v.size)
	}
	if err := v.readDirectory(); err != nil {
		return err
	}
	if v.entries == nil {
		return nil // the directory could not be read: nothing else can be checked
	}
	v.checkNames()
	if err := v.readManifest(); err != nil {
		return err
	}
	if err := v.checkEntries(); err != nil {
		return err
	}
	if err := v.checkPrefix(); err != nil {
		return err
	}
	if md := v.report.Metadata; md != nil && v.manifestOK && v.report.Manifest.SessionID != md.SessionID {
		v.problem("session.json is about session %s, the manifest about session %s", show(md.SessionID), show(v.report.Manifest.SessionID))
	}
	if len(v.structural) > 0 && len(v.report.Problems) == 0 {
		msg := "the bundle's zip container was altered or re-packed (the files inside still match their signed digests): " + v.structural[0]
		if n := len(v.structural) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more differences)", n)
		}
		v.problem("%s", msg)
	}
	if v.more > 0 {
		v.report.Problems = append(v.report.Problems, fmt.Sprintf("and %d more problems", v.more))
	}
	v.report.Verified = len(v.report.Problems) == 0 && v.manifestOK
	return nil
}

// readDirectory finds the end records and parses the central directory. A file that is
// no zip file is ErrNotBundle; a zip file too damaged to read is a problem.
func (v *verifier) readDirectory() error {
	head, _ := v.readAt(0, 4)
	startsLikeZip := len(head) == 4 && binary.LittleEndian.Uint32(head) == sigLocal
	notZip := func(why string) error {
		if startsLikeZip {
			v.problem("the bundle is damaged or incomplete (truncated?): %s", why)
			return nil
		}
		return fmt.Errorf("%w: not a zip file (%s)", ErrNotBundle, why)
	}
	n := min(v.size, maxTail)
	tail, err := v.readAt(v.size-n, int(n))
	if err != nil {
		return err
	}
	end, ok, err := findEnd(tail, v.size-n, v.readAt)
	if err != nil && !errors.Is(err, errOutside) {
		return err
	}
	if !ok {
		return notZip("the end of its zip directory is missing")
	}
	v.end = end
	switch {
	case end.count > uint64(v.lim.files):
		return notZip(fmt.Sprintf("its zip directory lists %d files, more than the %d a bundle may have", end.count, v.lim.files))
	case end.cdSize > maxCentralSize:
		return notZip(fmt.Sprintf("its zip directory is %d bytes long, more than a bundle's can be", end.cdSize))
	case end.cdOffset > uint64(end.cdEnd) || end.cdSize > uint64(end.cdEnd)-end.cdOffset:
		return notZip("its zip directory lies outside the file")
	}
	cd, err := v.readAt(int64(end.cdOffset), int(end.cdSize))
	if err != nil {
		return err
	}
	entries, raws, ok := parseCentral(cd, int(end.count))
	if !ok {
		return notZip("its zip directory does not parse")
	}
	ours := false
	for _, e := range entries {
		ours = ours || contentName(e.name) || e.name == NameManifest || e.name == NameSig
	}
	if !ours {
		// A bundle whose directory was damaged still starts with its recording.
		if lh, err := v.readAt(0, localLen+len(NameCast)); err == nil && startsLikeZip {
			if name := string(lh[localLen:]); name == NameCast || name == NameGuac {
				v.problem("the bundle is damaged: its zip directory does not list its files")
				return nil
			}
		}
		return fmt.Errorf("%w: a zip file, but it holds none of a bundle's files", ErrNotBundle)
	}
	v.entries, v.raws = entries, raws
	if end.fileEnd < v.size {
		v.problem("%s were added after the end of the bundle", sizeText(v.size-end.fileEnd))
	}
	if end.cdOffset+end.cdSize != uint64(end.cdEnd) {
		v.differs("there are %d bytes between the zip directory and its end record", uint64(end.cdEnd)-end.cdOffset-end.cdSize)
	}
	return nil
}

// checkNames reports unsafe, unexpected and repeated names.
func (v *verifier) checkNames() {
	count := map[string]int{}
	for i, e := range v.entries {
		if _, ok := v.first[e.name]; !ok {
			v.first[e.name] = i
		}
		count[e.name]++
		if count[e.name] == 2 {
			n := 0
			for _, o := range v.entries {
				if o.name == e.name {
					n++
				}
			}
			v.problem("%s appears %d times in the bundle", show(e.name), n)
		}
		if count[e.name] > 1 {
			continue
		}
		if why := unsafeName(e.name); why != "" {
			v.problem("unexpected file %s in the bundle (%s: never extract this bundle with unzip)", show(e.name), why)
		} else if !contentName(e.name) && e.name != NameManifest && e.name != NameSig {
			v.problem("unexpected file %s in the bundle", show(e.name))
		}
	}
}

// readManifest reads manifest.json and manifest.sig and checks the signature and the
// list of files.
func (v *verifier) readManifest() error {
	mi, okM := v.first[NameManifest]
	si, okS := v.first[NameSig]
	if !okM {
		v.problem("manifest.json is missing: nothing says what the bundle should hold")
	}
	if !okS {
		v.problem("manifest.sig is missing: the bundle is not signed")
	}
	if !okM {
		return nil
	}
	md, err := v.readEntry(v.entries[mi], v.lim.manifest, true)
	if err != nil || md.problem != "" {
		return err
	}
	m := &v.report.Manifest
	if err := json.Unmarshal(md.data, m); err != nil {
		v.problem("manifest.json is damaged: %v", err)
		return nil
	}
	if m.Format != Format || m.Version != Version {
		v.problem("manifest.json is not a version %d Portcullis bundle manifest (format %s, version %d)", Version, show(m.Format), m.Version)
		return nil
	}
	v.tm, v.dt = dosTime(m.CreatedAt)
	v.timeKnown = true
	pub, keyOK := v.checkKey(m.Signer)
	sigOK := false
	if okS && keyOK {
		sd, err := v.readEntry(v.entries[si], maxSigSize, true)
		if err != nil {
			return err
		}
		if sd.problem == "" {
			sig, ok := decodeSig(sd.data)
			switch {
			case !ok:
				v.problem("manifest.sig is damaged: it does not hold one base64 Ed25519 signature")
			case !ed25519.Verify(pub, md.data, sig):
				v.problem("manifest.json was altered: the signature in manifest.sig does not match it")
			default:
				sigOK = true
			}
		}
	}
	if keyOK && len(v.trusted) > 0 && !isTrusted(v.report.Fingerprint, v.trusted) {
		v.problem("the bundle is signed by %s, which is not a trusted key (trusted: %s)", v.report.Fingerprint, show(strings.Join(v.trusted, ", ")))
	}
	// What the manifest says of the files counts only when it is the signed one.
	v.manifestOK = sigOK
	if sigOK {
		v.checkList(*m)
	}
	return nil
}

// checkKey decodes the manifest's public key and sets the report's fingerprint.
func (v *verifier) checkKey(s SignerInfo) (ed25519.PublicKey, bool) {
	if s.Algorithm != "ed25519" {
		v.problem("manifest.json names an unknown signature algorithm %s", show(s.Algorithm))
		return nil, false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		v.problem("manifest.json is damaged: its public key is not an Ed25519 key")
		return nil, false
	}
	pub := ed25519.PublicKey(raw)
	v.report.Fingerprint = Fingerprint(pub)
	if s.Fingerprint != v.report.Fingerprint {
		v.problem("manifest.json names the key %s, but holds the key %s", show(s.Fingerprint), v.report.Fingerprint)
	}
	return pub, true
}

// decodeSig decodes manifest.sig: the standard base64 of a 64-byte signature and a
// newline, exactly.
func decodeSig(data []byte) ([]byte, bool) {
	text, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok {
		return nil, false
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(string(text))
	if err != nil || len(sig) != ed25519.SignatureSize || base64.StdEncoding.EncodeToString(sig) != string(text) {
		return nil, false
	}
	return sig, true
}

// isTrusted reports whether fp is one of trusted (with or without "SHA256:", padding
// or surrounding space).
func isTrusted(fp string, trusted []string) bool {
	norm := func(s string) string {
		s = strings.TrimRight(strings.TrimSpace(s), "=")
		return strings.TrimPrefix(s, "SHA256:")
	}
	return slices.ContainsFunc(trusted, func(t string) bool { return norm(t) == norm(fp) })
}

// checkList compares the manifest's list of files with the bundle's.
func (v *verifier) checkList(m Manifest) {
	if len(m.Files) > v.lim.files {
		v.problem("manifest.json lists %d files, more than the %d a bundle may have", len(m.Files), v.lim.files)
		return
	}
	seen := map[string]bool{}
	recordings := 0
	for _, f := range m.Files {
		switch {
		case seen[f.Name]:
			v.problem("manifest.json lists %s twice", show(f.Name))
			continue
		case !contentName(f.Name):
			v.problem("manifest.json lists an unexpected file %s", show(f.Name))
		case f.Size < 0:
			v.problem("manifest.json gives %s a negative size", show(f.Name))
		}
		seen[f.Name] = true
		if f.Name == NameCast || f.Name == NameGuac {
			recordings++
		}
		if _, ok := v.first[f.Name]; !ok {
			v.problem("%s is missing from the bundle", show(f.Name))
		}
	}
	if recordings != 1 {
		v.problem("manifest.json lists %d recordings, not one", recordings)
	}
	if !seen[NameSession] {
		v.problem("manifest.json does not list session.json")
	}
	for _, e := range v.entries {
		if contentName(e.name) && !seen[e.name] {
			v.problem("unexpected file %s in the bundle: the manifest does not list it", show(e.name))
			seen[e.name] = true // once
		}
	}
}

// expectedOrder returns the names of a bundle's entries in the order Write writes them.
func expectedOrder(m Manifest) []string {
	names := make([]string, 0, len(m.Files)+2)
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	return append(names, NameManifest, NameSig)
}

// checkEntries reads every entry, in the order of the directory, and compares its
// contents with the manifest and its headers with the layout Write produces from the
// measured sizes, CRCs and offsets.
func (v *verifier) checkEntries() error {
	var m Manifest // the manifest, when signed: else it says nothing
	if v.manifestOK {
		m = v.report.Manifest
		names := make([]string, len(v.entries))
		for i, e := range v.entries {
			names[i] = e.name
		}
		if !slices.Equal(names, expectedOrder(m)) {
			v.differs("the files are not in the signed order")
		}
	}
	pos := int64(0)   // where the next entry should start
	lost := false     // an entry could not be measured: later offsets are unknown
	var cdSize uint64 // of the central directory as Write would have written it
	for i, e := range v.entries {
		if !lost && int64(e.offset) != pos {
			v.differs("%s starts at byte %d, not %d", show(e.name), e.offset, pos)
		}
		if lost {
			pos = int64(e.offset)
		}
		limit := v.lim.fileSize
		switch e.name {
		case NameManifest:
			limit = v.lim.manifest
			v.manifestPos = pos
		case NameSig:
			limit = maxSigSize
		case NameSession:
			limit = v.lim.session
		}
		f, listed := m.File(e.name)
		d, err := v.readEntry(e, limit, e.name == NameSession && v.first[e.name] == i)
		if err != nil {
			return err
		}
		if d.problem != "" {
			lost = true
			continue
		}
		altered := false
		if listed && v.first[e.name] == i {
			switch sum := hex.EncodeToString(d.sha); {
			case d.n != f.Size:
				v.problem("%s was altered: it has %s, the manifest says %s", show(e.name), sizeText(d.n), sizeText(f.Size))
				altered = true
			case sum != f.SHA256:
				v.problem("%s was altered: its SHA-256 is %s, the manifest says %s", show(e.name), sum, show(f.SHA256))
				altered = true
			}
		}
		if e.name == NameSession && d.data != nil {
			var md Metadata
			if err := json.Unmarshal(d.data, &md); err != nil {
				if !altered {
					v.problem("session.json is damaged: %v", err)
				}
			} else {
				v.report.Metadata = &md
			}
		}

		// The headers this entry would have, had Write written it.
		want := zipEntry{name: e.name, method: methodDeflate, flags: flagDescriptor,
			modTime: e.modTime, modDate: e.modDate, crc: d.crc, csize: d.csize, usize: uint64(d.n), offset: uint64(pos)}
		if e.name == NameManifest || e.name == NameSig {
			want.method, want.flags = methodStore, 0
		}
		if v.timeKnown {
			want.modTime, want.modDate = v.tm, v.dt
		}
		if e.method != want.method {
			v.differs("%s is compressed with method %d, not %d", show(e.name), e.method, want.method)
		}
		if !bytes.Equal(d.local, localHeader(want)) {
			v.differs("the local header of %s differs", show(e.name))
		}
		if !bytes.Equal(v.raws[i], centralRecord(want)) {
			v.differs("the directory record of %s differs", show(e.name))
		}
		cdSize += uint64(len(centralRecord(want)))
		next := d.dataStart + int64(d.csize)
		if want.flags&flagDescriptor != 0 {
			desc := dataDescriptor(want)
			got, err := v.readAt(next, len(desc))
			if err != nil && !errors.Is(err, errOutside) {
				return err
			}
			if !bytes.Equal(got, desc) {
				v.differs("the data descriptor of %s differs", show(e.name))
			}
			next += int64(len(desc))
		}
		pos = next
	}
	if lost {
		return nil
	}
	if uint64(pos) != v.end.cdOffset {
		v.differs("the zip directory starts at byte %d, not right after the files (byte %d)", v.end.cdOffset, pos)
	}
	wantEnd := endRecords(len(v.entries), uint64(pos), cdSize)
	at := int64(v.end.cdOffset + v.end.cdSize)
	if v.size-at != int64(len(wantEnd)) {
		v.differs("the end of the zip directory is %d bytes long, not %d", v.size-at, len(wantEnd))
		return nil
	}
	gotEnd, err := v.readAt(at, len(wantEnd))
	if err != nil {
		return err
	}
	if !bytes.Equal(gotEnd, wantEnd) {
		v.differs("the end of the zip directory differs")
	}
	return nil
}

// checkPrefix compares the digest of the zip bytes before manifest.json with the
// manifest's.
func (v *verifier) checkPrefix() error {
	if !v.manifestOK {
		return nil
	}
	p := v.report.Manifest.ZipPrefix
	if p.Size != v.manifestPos {
		v.differs("manifest.json starts at byte %d, the manifest says %d", v.manifestPos, p.Size)
		return nil
	}
	if p.Size < 0 || p.Size > v.size {
		return nil
	}
	h := sha256.New()
	src := &ioErrReader{r: io.NewSectionReader(v.r, 0, p.Size)}
	if _, err := v.copyN(h, src, p.Size); err != nil {
		if src.err != nil {
			return fmt.Errorf("bundle: read: %w", src.err)
		}
		return fmt.Errorf("bundle: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != p.SHA256 {
		v.differs("its first %d bytes do not match their signed SHA-256", p.Size)
	}
	return nil
}

// entryData is what reading an entry found.
type entryData struct {
	local     []byte // its local header as found
	dataStart int64
	n         int64  // bytes of content
	sha       []byte // SHA-256 of the content
	crc       uint32
	csize     uint64 // bytes of data the entry took in the file
	data      []byte // the content, when asked for
	problem   string // set (and reported) when the entry could not be read whole
}

// readEntry reads the content of e, at most limit bytes, hashing it and keeping it when
// capture is set. What stops it (damage, a size over limit) is reported as a problem
// and set in the result; the error is for I/O and ctx only.
func (v *verifier) readEntry(e zipEntry, limit int64, capture bool) (entryData, error) {
	var d entryData
	fail := func(format string, args ...any) (entryData, error) {
		d.problem = fmt.Sprintf(format, args...)
		v.problem("%s", d.problem)
		return d, nil
	}
	name := show(e.name)
	fixed, err := v.readAt(int64(min(e.offset, 1<<62)), localLen)
	if errors.Is(err, errOutside) {
		return fail("%s is missing: its data lies outside the file (truncated?)", name)
	} else if err != nil {
		return d, err
	}
	if binary.LittleEndian.Uint32(fixed) != sigLocal {
		return fail("%s is damaged: its local header is missing", name)
	}
	hlen := localLen + int(binary.LittleEndian.Uint16(fixed[26:])) + int(binary.LittleEndian.Uint16(fixed[28:]))
	d.local, err = v.readAt(int64(e.offset), hlen)
	if errors.Is(err, errOutside) {
		return fail("%s is missing: its data lies outside the file (truncated?)", name)
	} else if err != nil {
		return d, err
	}
	d.dataStart = int64(e.offset) + int64(hlen)

	if e.usize > uint64(v.lim.fileSize) {
		return fail("%s claims %s, more than the %s a bundle file may have", name, sizeText(int64(min(e.usize, 1<<62))), sizeText(v.lim.fileSize))
	}
	// Read one byte more than the least of what the zip header claims, what the
	// manifest claims (signed or not), the limit of the file and what is left of the
	// bundle's budget, to tell when there is more: then stop.
	bound := min(int64(e.usize), limit, v.budget)
	f, listed := v.report.Manifest.File(e.name)
	if listed && f.Size >= 0 {
		bound = min(bound, f.Size)
	}
	tooLong := func(n int64) string {
		switch {
		case uint64(bound) == e.usize:
			return fmt.Sprintf("%s is larger than its zip header says (%s): stopped reading at %s (a zip bomb?)", name, sizeText(bound), sizeText(n))
		case listed && f.Size == bound && v.manifestOK:
			return fmt.Sprintf("%s was altered: it is longer than the %s the manifest says (stopped reading at %s)", name, sizeText(bound), sizeText(n))
		case listed && f.Size == bound:
			return fmt.Sprintf("%s is longer than the %s manifest.json gives it: stopped reading at %s", name, sizeText(bound), sizeText(n))
		case bound == v.budget:
			return fmt.Sprintf("the files of the bundle add up to more than a bundle may hold: stopped reading %s at %s", name, sizeText(n))
		}
		return fmt.Sprintf("%s is larger than the %s such a file may have: stopped reading at %s", name, sizeText(bound), sizeText(n))
	}

	end := v.size
	if v.end.cdOffset >= uint64(d.dataStart) {
		end = int64(v.end.cdOffset)
	}
	if d.dataStart > end {
		return fail("%s is missing: its data lies outside the file (truncated?)", name)
	}
	src := &ioErrReader{r: io.NewSectionReader(v.r, d.dataStart, end-d.dataStart)}
	var content io.Reader
	var br *bufio.Reader
	switch e.method {
	case methodStore:
		if e.csize > uint64(end-d.dataStart) {
			return fail("%s is missing part of its data (truncated?)", name)
		}
		content = io.LimitReader(src, int64(e.csize))
	case methodDeflate:
		br = v.inflater(src)
		content = v.fr
	default:
		return fail("%s is compressed with an unknown method (%d)", name, e.method)
	}

	sha, crc := sha256.New(), crc32.NewIEEE()
	var buf bytes.Buffer
	sinks := []io.Writer{sha, crc}
	if capture {
		sinks = append(sinks, &buf)
	}
	n, err := v.copyN(io.MultiWriter(sinks...), content, bound+1)
	if src.err != nil {
		return d, fmt.Errorf("bundle: read %s: %w", name, src.err)
	}
	if cerr := v.ctx.Err(); cerr != nil {
		return d, fmt.Errorf("bundle: %w", cerr)
	}
	switch {
	case n > bound:
		return fail("%s", tooLong(n))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fail("%s is damaged or cut short: its data ends early", name)
	case err != nil:
		return fail("%s is damaged: %v", name, err)
	}
	v.budget -= n
	d.n, d.sha, d.crc = n, sha.Sum(nil), crc.Sum32()
	if capture {
		d.data = buf.Bytes()
	}
	d.csize = e.csize
	if br != nil {
		d.csize = uint64(src.n - int64(br.Buffered()))
	} else if e.method == methodStore && e.usize != e.csize {
		v.differs("%s is stored with two different sizes", name)
	}
	if _, ok := v.found[e.name]; !ok {
		v.found[e.name] = located{dataStart: d.dataStart, method: e.method, csize: d.csize, usize: uint64(d.n)}
	}
	return d, nil
}

// inflater returns the verifier's decompressor reading src, and the buffered reader
// between them: one of each serves every entry.
func (v *verifier) inflater(src io.Reader) *bufio.Reader {
	if v.br == nil {
		v.br = bufio.NewReaderSize(src, 64<<10)
		v.fr = flate.NewReader(v.br)
		return v.br
	}
	v.br.Reset(src)
	v.fr.(flate.Resetter).Reset(v.br, nil)
	return v.br
}

// copyN copies from src to dst until EOF or n bytes, checking ctx between reads. It
// returns the bytes copied and the read error that ended it (nil at EOF).
func (v *verifier) copyN(dst io.Writer, src io.Reader, n int64) (int64, error) {
	if want := int(min(n, copyBufSize)); len(v.buf) < want {
		v.buf = make([]byte, want)
	}
	buf := v.buf
	var total int64
	for total < n {
		if err := v.ctx.Err(); err != nil {
			return total, err
		}
		p := buf[:min(int64(len(buf)), n-total)]
		k, err := src.Read(p)
		if k > 0 {
			dst.Write(p[:k]) // hashes and a bytes.Buffer: no errors
			total += int64(k)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ioErrReader counts what it reads and keeps an I/O error (not io.EOF) for the caller,
// who tells it apart from the damage the decompressor reports.
type ioErrReader struct {
	r   io.Reader
	n   int64
	err error
}

func (r *ioErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
