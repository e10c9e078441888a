// Package record writes and reads terminal session recordings in the asciicast v2
// format (https://docs.asciinema.org/manual/asciicast/v2/), the format `asciinema play`
// and asciinema-player understand.
//
// A recording is a header line followed by one JSON array per event:
//
//	{"version": 2, "width": 80, "height": 24, "timestamp": 1764237600, "env": {"TERM": "xterm-256color"}}
//	[0.248013, "o", "$ "]
//	[1.101200, "r", "120x40"]
//	[2.003911, "m", "ls -l"]
//
// CastWriter sits beside a terminal relay without slowing it down: Output copies the
// bytes into an in-memory batch and returns; a writer goroutine coalesces them into
// events, JSON-escapes them in bulk (safe runs are copied, NUL and other control bytes
// become \u00XX, invalid UTF-8 is decoded with replacement the way asciinema does) and
// compresses them with gzip. Output is recorded; input ("i" events) only on request,
// since it may hold passwords.
//
// # Crash safety
//
// At least once per FlushInterval the writer ends the pending deflate block with a
// sync flush and fsyncs the file, so a reader gets everything up to the last flush
// even after the server is killed with SIGKILL. OpenCast reads a file cut by a crash up
// to its last complete line; Repair rewrites such a file into a complete gzip file for
// tools that insist on the trailer.
//
// A .cast.gz is a single gzip member, as browsers need, but the writer does not hold
// a compressor for all of it: when a recording has been quiet for a whole interval,
// the writer hands its compressor (about 800 KiB) back to a shared pool and stops its
// goroutine; the next output continues the same deflate stream with a fresh one. It
// keeps the CRC and size for the trailer itself. An idle session costs about 2 KiB.
//
// Long runs of one byte (a `cat /dev/zero`) are written as copies of a ready-made
// deflate segment, so they cost neither compression time nor much disk.
//
// # Back pressure
//
// The writer holds at most CastOptions.BufferLimit bytes of unwritten events. When it
// falls behind (a slow disk, or output faster than one core can compress), the Policy
// decides: Pace (the default) makes Output wait for room, so the session runs at the
// speed of the recording and nothing is lost, and drops (with a marker) only when the
// disk makes no progress for StallTimeout; FailOpen drops output, counts it and writes
// an "m" marker saying how many bytes are missing; FailClosed makes Output wait up to
// StallTimeout for room and then fails the recorder, which Err, Failed and Write
// report so the relay can end the session.
package record
