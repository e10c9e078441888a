package bundle

import (
	"encoding/binary"
	"time"
)

// A bundle is a zip file in one exact layout, so that a verifier can check every byte
// of it and not only the files inside (see doc.go). This file holds that layout: the
// encoders Write uses, which Verify runs again from measured values to compare, and
// the parsers of the end records and the central directory. Write does not use
// archive/zip's writer: its output may change between Go releases (it already gained
// extra fields once), and a bundle signed today must still compare equal to what the
// verifier of a later release expects.
//
// Layout rules of version 1 (all integers little-endian, APPNOTE.TXT 6.3):
//   - entries in order: the files of the manifest, then manifest.json, manifest.sig;
//     the first local header at byte 0, no gap between entries;
//   - deflated entries (the manifest's files) are streamed: flag 0x0008, CRC and sizes
//     0 in the local header, a data descriptor with signature after the data, its sizes
//     8 bytes each when either is 0xFFFFFFFF or more (ZIP64), else 4;
//   - stored entries (manifest.json, manifest.sig): flag 0, CRC and sizes in the local
//     header, no data descriptor;
//   - every header: version needed 20 (45 in a central record with a ZIP64 field),
//     made by Unix 4.5, the MS-DOS time of the manifest's created_at in UTC, no extra
//     field but the ZIP64 one of a central record, no comment, mode 0644;
//   - the central directory right after the last entry, then (when a count, size or
//     offset does not fit) the ZIP64 end record and locator, then the end record,
//     which ends the file.
const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigDescriptor = 0x08074b50
	sigEnd        = 0x06054b50
	sigEnd64      = 0x06064b50
	sigLocator64  = 0x07064b50

	localLen      = 30 // fixed part of a local file header
	centralLen    = 46 // fixed part of a central directory record
	endLen        = 22 // end of central directory record, without comment
	end64Len      = 56 // ZIP64 end of central directory record
	locator64Len  = 20 // ZIP64 end of central directory locator
	descriptorLen = 16 // data descriptor with signature, 4-byte sizes
	descriptor64  = 24 // the same with 8-byte sizes

	versionNeeded   = 20
	versionNeeded64 = 45
	versionMadeBy   = 3<<8 | 45 // Unix, APPNOTE 4.5

	flagDescriptor = 0x0008

	methodStore   = 0
	methodDeflate = 8

	max16 = 0xFFFF
	max32 = 0xFFFFFFFF

	externalAttrs = 0o100644 << 16 // a regular file, rw-r--r--, as unzip sets it on Unix
	zip64ExtraTag = 0x0001
)

// zipEntry is what the central directory says of one entry.
type zipEntry struct {
	name             string
	method, flags    uint16
	modTime, modDate uint16
	crc              uint32
	csize, usize     uint64
	offset           uint64
}

// le appends little-endian integers.
type le []byte

func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }
func (b le) u64(v uint64) le { return binary.LittleEndian.AppendUint64(b, v) }

// clamp32 returns v, or the ZIP64 marker when v does not fit in 32 bits.
func clamp32(v uint64) uint32 {
	if v >= max32 {
		return max32
	}
	return uint32(v)
}

// localHeader encodes the local file header of e. A streamed entry (flagDescriptor)
// has zero CRC and sizes: they follow the data in its descriptor.
func localHeader(e zipEntry) []byte {
	crc, csize, usize := e.crc, uint32(0), uint32(0)
	if e.flags&flagDescriptor != 0 {
		crc = 0
	} else {
		csize, usize = clamp32(e.csize), clamp32(e.usize)
	}
	b := make(le, 0, localLen+len(e.name)).
		u32(sigLocal).u16(versionNeeded).u16(e.flags).u16(e.method).
		u16(e.modTime).u16(e.modDate).u32(crc).u32(csize).u32(usize).
		u16(uint16(len(e.name))).u16(0)
	return append(b, e.name...)
}

// dataDescriptor encodes the descriptor that follows a streamed entry's data.
func dataDescriptor(e zipEntry) []byte {
	b := make(le, 0, descriptor64).u32(sigDescriptor).u32(e.crc)
	if e.csize >= max32 || e.usize >= max32 {
		return b.u64(e.csize).u64(e.usize)
	}
	return b.u32(uint32(e.csize)).u32(uint32(e.usize))
}

// centralRecord encodes the central directory record of e, with a ZIP64 extra field
// holding whichever of the sizes and the offset do not fit in 32 bits.
func centralRecord(e zipEntry) []byte {
	var extra le
	if e.usize >= max32 {
		extra = extra.u64(e.usize)
	}
	if e.csize >= max32 {
		extra = extra.u64(e.csize)
	}
	if e.offset >= max32 {
		extra = extra.u64(e.offset)
	}
	needed := uint16(versionNeeded)
	if len(extra) > 0 {
		needed = versionNeeded64
		extra = append(make(le, 0, 4+len(extra)).u16(zip64ExtraTag).u16(uint16(len(extra))), extra...)
	}
	b := make(le, 0, centralLen+len(e.name)+len(extra)).
		u32(sigCentral).u16(versionMadeBy).u16(needed).u16(e.flags).u16(e.method).
		u16(e.modTime).u16(e.modDate).u32(e.crc).u32(clamp32(e.csize)).u32(clamp32(e.usize)).
		u16(uint16(len(e.name))).u16(uint16(len(extra))).u16(0). // comment length
		u16(0).u16(0).u32(externalAttrs).u32(clamp32(e.offset))  // disk, internal attributes
	b = append(b, e.name...)
	return append(b, extra...)
}

// endRecords encodes what follows the central directory: the ZIP64 end record and
// locator when the count, size or offset does not fit, then the end record. Like
// archive/zip, a ZIP64 end puts the markers in all three fields of the end record.
func endRecords(count int, cdOffset, cdSize uint64) []byte {
	var b le
	n, size, off := uint16(count), uint32(cdSize), uint32(cdOffset)
	if count >= max16 || cdSize >= max32 || cdOffset >= max32 {
		end64 := cdOffset + cdSize
		b = b.u32(sigEnd64).u64(end64Len - 12).u16(versionMadeBy).u16(versionNeeded64).
			u32(0).u32(0).u64(uint64(count)).u64(uint64(count)).u64(cdSize).u64(cdOffset).
			u32(sigLocator64).u32(0).u64(end64).u32(1)
		n, size, off = max16, max32, max32
	}
	return b.u32(sigEnd).u16(0).u16(0).u16(n).u16(n).u32(size).u32(off).u16(0)
}

// dosTime returns the MS-DOS date and time of t in UTC, clamped to what the format
// can hold (1980 to 2107, two-second steps).
func dosTime(t time.Time) (tm, date uint16) {
	t = t.UTC()
	switch {
	case t.Year() < 1980:
		return 0, 1<<5 | 1
	case t.Year() > 2107:
		return 23<<11 | 59<<5 | 29, 127<<9 | 12<<5 | 31
	}
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	return tm, date
}

// endInfo is what the end records say of the central directory.
type endInfo struct {
	count    uint64
	cdOffset uint64
	cdSize   uint64
	endPos   int64 // where the end record starts
	cdEnd    int64 // where the central directory should end: the ZIP64 end record, or the end record
	fileEnd  int64 // where the end record and its comment end
}

// findEnd looks for the end record in tail, the last bytes of the file starting at
// file offset base: the last one whose comment fits in the file. It reads the ZIP64
// records when the end record holds markers. ok is false when there is no end record.
func findEnd(tail []byte, base int64, readAt func(off int64, n int) ([]byte, error)) (endInfo, bool, error) {
	for i := len(tail) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) != sigEnd {
			continue
		}
		rec := tail[i : i+endLen]
		clen := int(binary.LittleEndian.Uint16(rec[20:]))
		if i+endLen+clen > len(tail) {
			continue
		}
		if binary.LittleEndian.Uint16(rec[4:]) != 0 || binary.LittleEndian.Uint16(rec[6:]) != 0 {
			continue // a multi-disk archive: not ours, and not a plausible end record
		}
		e := endInfo{
			count:    uint64(binary.LittleEndian.Uint16(rec[10:])),
			cdSize:   uint64(binary.LittleEndian.Uint32(rec[12:])),
			cdOffset: uint64(binary.LittleEndian.Uint32(rec[16:])),
			endPos:   base + int64(i),
			fileEnd:  base + int64(i+endLen+clen),
		}
		e.cdEnd = e.endPos
		if e.count == max16 || e.cdSize == max32 || e.cdOffset == max32 {
			if e.endPos < locator64Len+end64Len {
				return e, true, nil
			}
			loc, err := readAt(e.endPos-locator64Len, locator64Len)
			if err != nil {
				return e, true, err
			}
			if binary.LittleEndian.Uint32(loc) != sigLocator64 {
				return e, true, nil
			}
			pos := binary.LittleEndian.Uint64(loc[8:])
			if pos > uint64(e.endPos-locator64Len-end64Len) {
				return e, true, nil
			}
			rec64, err := readAt(int64(pos), end64Len)
			if err != nil {
				return e, true, err
			}
			if binary.LittleEndian.Uint32(rec64) != sigEnd64 {
				return e, true, nil
			}
			e.count = binary.LittleEndian.Uint64(rec64[32:])
			e.cdSize = binary.LittleEndian.Uint64(rec64[40:])
			e.cdOffset = binary.LittleEndian.Uint64(rec64[48:])
			e.cdEnd = int64(pos)
		}
		return e, true, nil
	}
	return endInfo{}, false, nil
}

// parseCentral parses count records from the central directory cd. It returns the
// entries and each one's record as found, or ok false if the records do not parse
// (a record runs past the end, a signature is wrong, or a ZIP64 field is missing).
func parseCentral(cd []byte, count int) (entries []zipEntry, raws [][]byte, ok bool) {
	for range count {
		if len(cd) < centralLen || binary.LittleEndian.Uint32(cd) != sigCentral {
			return nil, nil, false
		}
		nlen := int(binary.LittleEndian.Uint16(cd[28:]))
		xlen := int(binary.LittleEndian.Uint16(cd[30:]))
		clen := int(binary.LittleEndian.Uint16(cd[32:]))
		total := centralLen + nlen + xlen + clen
		if len(cd) < total {
			return nil, nil, false
		}
		e := zipEntry{
			flags:   binary.LittleEndian.Uint16(cd[8:]),
			method:  binary.LittleEndian.Uint16(cd[10:]),
			modTime: binary.LittleEndian.Uint16(cd[12:]),
			modDate: binary.LittleEndian.Uint16(cd[14:]),
			crc:     binary.LittleEndian.Uint32(cd[16:]),
			csize:   uint64(binary.LittleEndian.Uint32(cd[20:])),
			usize:   uint64(binary.LittleEndian.Uint32(cd[24:])),
			offset:  uint64(binary.LittleEndian.Uint32(cd[42:])),
			name:    string(cd[centralLen : centralLen+nlen]),
		}
		if !readZip64Extra(&e, cd[centralLen+nlen:centralLen+nlen+xlen]) {
			return nil, nil, false
		}
		entries = append(entries, e)
		raws = append(raws, cd[:total:total])
		cd = cd[total:]
	}
	return entries, raws, true
}

// readZip64Extra replaces the fields of e holding the ZIP64 marker with their values
// from the ZIP64 extra field. It reports false when one is missing.
func readZip64Extra(e *zipEntry, extra []byte) bool {
	needs := []*uint64{}
	for _, f := range []*uint64{&e.usize, &e.csize, &e.offset} {
		if *f == max32 {
			needs = append(needs, f)
		}
	}
	if len(needs) == 0 {
		return true
	}
	for len(extra) >= 4 {
		tag := binary.LittleEndian.Uint16(extra)
		size := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+size > len(extra) {
			return false
		}
		if tag == zip64ExtraTag {
			field := extra[4 : 4+size]
			for _, f := range needs {
				if len(field) < 8 {
					return false
				}
				*f = binary.LittleEndian.Uint64(field)
				field = field[8:]
			}
			return true
		}
		extra = extra[4+size:]
	}
	return false
}
