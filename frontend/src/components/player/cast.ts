// The model of a terminal recording player: the seek index the server keeps
// beside each recording (backend/record Index), the asciicast v2 events of a
// segment, and the clock that turns wall time into recording time (speed,
// skipped idle time). No DOM here: RecordingPlayer.vue drives an xterm with it.

import type { Marker, RecordingIndex, Segment } from '@/api'

export type { CastHeader, Marker, RecordingIndex, Segment } from '@/api'

/** CastEvent is one event: time in seconds, code o (output), i (input), r (resize "COLSxROWS"), m (marker). */
export interface CastEvent {
  time: number
  code: string
  data: string
}

/**
 * parseEvents reads the event lines of an asciicast v2 text (a segment or a
 * whole file): the header line and blank lines are skipped, and a malformed
 * or cut line (a recording cut by a crash) ends the list rather than failing.
 */
export function parseEvents(text: string): CastEvent[] {
  const out: CastEvent[] = []
  for (const line of text.split('\n')) {
    const s = line.trim()
    if (s === '' || s.startsWith('{')) continue
    let v: unknown
    try {
      v = JSON.parse(s)
    } catch {
      break
    }
    if (!Array.isArray(v) || v.length < 3 || typeof v[0] !== 'number' || typeof v[1] !== 'string') break
    out.push({ time: v[0], code: v[1], data: String(v[2]) })
  }
  return out
}

/** segmentAt is the index of the segment holding time t (the last that starts at or before it). */
export function segmentAt(segments: Segment[], t: number): number {
  let lo = 0
  let hi = segments.length - 1
  if (hi < 0) return -1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (segments[mid].time <= t) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** MARKER_LABEL_BYTES is where the index cuts a marker's label (backend/record maxMarkerLabel). */
const MARKER_LABEL_BYTES = 1024

/**
 * isMarkerEvent says whether ev is marker's own "m" event. The index keeps the
 * first 1024 bytes of a label (a long pasted line), so a label cut there
 * matches the event it begins.
 */
export function isMarkerEvent(ev: CastEvent, marker: Marker): boolean {
  if (ev.code !== 'm' || Math.abs(ev.time - marker.time) >= 1e-6) return false
  if (ev.data === marker.label) return true
  return (
    ev.data.length > marker.label.length &&
    ev.data.startsWith(marker.label) &&
    new TextEncoder().encode(marker.label).length > MARKER_LABEL_BYTES - 4
  )
}

/**
 * seekEnd returns the position, from `from` on, after the last event that the
 * screen at time `until` shows: every event with time <= until. Seeking to a
 * marker (a logged command) stops right after that marker's own event, so the
 * screen is the one the user saw when they pressed Enter: output that followed
 * in the same instant (the recording's clock has milliseconds) belongs to the
 * command and is not shown yet. nth picks among markers of the same time and
 * label (0: the first). A marker not found in events is a plain time.
 */
export function seekEnd(events: CastEvent[], from: number, until: number, marker?: Marker, nth = 0): number {
  let pos = from
  let skip = nth
  while (pos < events.length && events[pos].time <= until) {
    const ev = events[pos++]
    if (marker && isMarkerEvent(ev, marker) && skip-- === 0) break
  }
  return pos
}

/**
 * markerSegment returns the segment that holds marker's own event, given i,
 * the last segment starting at or before its time (segmentAt). That is i,
 * unless segments start at the marker's very instant: the indexer starts one
 * at a marker, and in a burst of output several can start in one millisecond,
 * so the event can sit in an earlier one. events loads a segment's events.
 * When no segment holds it, i.
 */
export async function markerSegment(
  segments: Segment[],
  i: number,
  marker: Marker,
  events: (i: number) => Promise<CastEvent[]>,
): Promise<number> {
  for (let j = i; j >= 0; j--) {
    if (j === i && segments[i].time !== marker.time) return i
    if ((await events(j)).some((ev) => isMarkerEvent(ev, marker))) return j
    if (segments[j].time !== marker.time) break // earlier segments end before its instant
  }
  return i
}

/** parseSize reads a resize event's "COLSxROWS". */
export function parseSize(data: string): { cols: number; rows: number } | null {
  const m = /^(\d+)x(\d+)$/.exec(data)
  if (!m) return null
  const cols = Number(m[1])
  const rows = Number(m[2])
  return cols > 0 && rows > 0 ? { cols, rows } : null
}

/**
 * advance returns the recording time after `elapsed` seconds of wall time
 * played at `speed` from `t`. With idleLimit set, a pause between two events
 * (from prevEvent, the last event shown, to nextEvent) longer than idleLimit
 * plays as idleLimit, as asciinema's idle time limit does: once the playhead
 * is idleLimit past prevEvent it jumps to nextEvent, and what is left of the
 * step plays from there.
 */
export function advance(
  t: number,
  elapsed: number,
  speed: number,
  prevEvent: number | null,
  nextEvent: number | null,
  idleLimit: number | null,
): number {
  const next = t + elapsed * speed
  if (idleLimit === null || nextEvent === null || next >= nextEvent) return next
  const gapStart = Math.min(prevEvent ?? t, t)
  const limit = gapStart + idleLimit
  if (nextEvent - gapStart <= idleLimit || next <= limit) return next
  return nextEvent + (next - Math.max(limit, t))
}

/** filterMarkers keeps the markers whose label holds the query (case-insensitive). */
export function filterMarkers(markers: Marker[], query: string): Marker[] {
  const q = query.trim().toLowerCase()
  return q ? markers.filter((m) => m.label.toLowerCase().includes(q)) : markers
}

/** formatTime shows seconds as m:ss or h:mm:ss. */
export function formatTime(s: number): string {
  const v = Math.max(0, Math.floor(s))
  const h = Math.floor(v / 3600)
  const m = Math.floor((v % 3600) / 60)
  const sec = String(v % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

/**
 * SegmentSource gives a player the index, the decompressed text of each
 * segment and, when the index comes without them (a long recording's keyframes
 * are most of its index), the keyframe of a segment.
 */
export interface SegmentSource {
  index(): Promise<RecordingIndex>
  segment(i: number): Promise<string>
  keyframe?(i: number): Promise<string>
}

/** gunzip decompresses one gzip member (a segment of a .cast.gz) in the browser. */
export async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'))
  return await new Response(stream).text()
}

/**
 * cachedSegments wraps a segment loader with a small cache (the segments
 * around the playhead) and de-duplicates concurrent loads of one segment.
 */
export function cachedSegments<T = string>(load: (i: number) => Promise<T>, keep = 8): (i: number) => Promise<T> {
  const cache = new Map<number, Promise<T>>()
  return (i: number) => {
    let p = cache.get(i)
    if (!p) {
      p = load(i)
      p.catch(() => cache.delete(i))
      cache.set(i, p)
      while (cache.size > keep) cache.delete(cache.keys().next().value as number)
    } else {
      cache.delete(i)
      cache.set(i, p)
    }
    return p
  }
}
