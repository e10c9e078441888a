package record

import (
	"errors"
	"log/slog"
	"time"
)

var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("record: recorder closed")
	// ErrBehind reports that a FailClosed recorder could not get room in its buffer
	// within StallTimeout: the disk (or the compressor) is too slow for the session.
	ErrBehind = errors.New("record: recorder fell behind")
	// ErrFormat reports a file that is not an asciicast v2 recording, or a line in it
	// that is not a valid event.
	ErrFormat = errors.New("record: not an asciicast v2 recording")
	// ErrCorrupt reports compressed data that cannot be decoded (other than a stream
	// cut short, which reads as the end of the recording).
	ErrCorrupt = errors.New("record: corrupt recording")
)

// Header is the first line of an asciicast v2 recording.
type Header struct {
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"` // Unix seconds; CreateCast fills it from the clock when 0
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"` // e.g. TERM and SHELL
}

// Event is one event of a recording: Time in seconds since the start, Kind "o"
// (output), "i" (input), "r" (resize, Data "COLSxROWS") or "m" (marker, Data its label).
type Event struct {
	Time float64
	Kind string
	Data string
}

// Event kinds.
const (
	KindOutput = "o"
	KindInput  = "i"
	KindResize = "r"
	KindMarker = "m"
)

// Policy says what a CastWriter does when its buffer is full because the writer fell
// behind.
type Policy int

const (
	// Pace (the default) keeps the recording complete as long as the disk makes
	// progress: Output waits for room (back pressure, so a flood of output runs at the
	// speed of the compressor and the disk, as it would on a slow link). When no room
	// comes within StallTimeout (the disk stopped answering), it behaves as FailOpen
	// until the writer has taken the waiting batch, so a stuck disk slows a session
	// down once, not at every chunk.
	Pace Policy = iota
	// FailOpen keeps the session going at full speed: output that does not fit is
	// dropped and counted (Dropped), a warning is logged once per episode, and the
	// recording gets an "m" marker saying how many bytes are missing and since when.
	FailOpen
	// FailClosed keeps the recording complete: Output waits up to StallTimeout for room
	// (back pressure, so the session runs at the speed of the disk), then the recorder
	// fails with ErrBehind: Write returns it, Err reports it, Failed is closed, and
	// the relay is expected to end the session.
	FailClosed
)

// String returns "pace", "fail-open" or "fail-closed".
func (p Policy) String() string {
	switch p {
	case FailClosed:
		return "fail-closed"
	case FailOpen:
		return "fail-open"
	}
	return "pace"
}

// Defaults of CastOptions.
const (
	DefaultFlushInterval = time.Second
	DefaultBufferLimit   = 4 << 20
	DefaultStallTimeout  = 2 * time.Second
	DefaultCoalesce      = 10 * time.Millisecond
)

// CastOptions tunes a CastWriter. The zero value is the recommended setting: output
// only, flushed and fsynced every second, paced (see Pace), 4 MiB of buffer, output within
// 10 ms coalesced into one event.
type CastOptions struct {
	// RecordInput adds "i" events; off by default (input may hold passwords).
	RecordInput bool
	// FlushInterval is how often at most data waits before it reaches the file (gzip
	// sync flush, then fsync); default 1s.
	FlushInterval time.Duration
	// NoFsync skips the fsync after each flush. Data still reaches the kernel at every
	// flush, which survives a killed process but not a power cut.
	NoFsync bool
	// Policy decides what happens when the writer falls behind; default Pace.
	Policy Policy
	// BufferLimit bounds the bytes of events waiting for the writer; default 4 MiB.
	BufferLimit int
	// StallTimeout is how long Output waits for room under Pace and FailClosed;
	// default 2s.
	StallTimeout time.Duration
	// Coalesce merges output that arrives within this window into one event (its time
	// is that of the first bytes); default 10ms, negative for one event per Output.
	Coalesce time.Duration
	// Clock gives event times; default time.Now.
	Clock func() time.Time
	// Log receives warnings (dropped output, write errors); default discards.
	Log *slog.Logger
}

func (o *CastOptions) setDefaults() {
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.BufferLimit <= 0 {
		o.BufferLimit = DefaultBufferLimit
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Coalesce == 0 {
		o.Coalesce = DefaultCoalesce
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}
