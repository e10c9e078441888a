import { describe, expect, it } from 'vitest'
import {
  advance,
  cachedSegments,
  filterMarkers,
  formatTime,
  gunzip,
  isMarkerEvent,
  markerSegment,
  parseEvents,
  parseSize,
  seekEnd,
  segmentAt,
  type CastEvent,
  type Segment,
} from '@/components/player/cast'

const seg = (time: number): Segment => ({ time, offset: 0, length: 0, cols: 80, rows: 24 })

describe('cast player model', () => {
  it('reads events, skipping the header, and stops at a cut line', () => {
    const text = [
      '{"version": 2, "width": 80, "height": 24}',
      '[0.5, "o", "$ "]',
      '[1.25, "m", "ls -l"]',
      '',
      '[2, "r", "100x30"]',
      '[3.0, "o", "trunc',
    ].join('\n')
    expect(parseEvents(text)).toEqual([
      { time: 0.5, code: 'o', data: '$ ' },
      { time: 1.25, code: 'm', data: 'ls -l' },
      { time: 2, code: 'r', data: '100x30' },
    ])
    expect(parseEvents('not json\n[1, "o", "x"]')).toEqual([])
  })

  it("ends a seek at a time, or right after a marker's own event", () => {
    const ev = (time: number, code: string, data: string): CastEvent => ({ time, code, data })
    const events = [
      ev(1, 'o', '$ '),
      ev(2.5, 'o', 'tail -f log\r\n'),
      ev(2.5, 'm', 'tail -f log'),
      ev(2.5, 'o', 'a flood of lines in the same millisecond'),
      ev(2.5, 'm', 'next'),
      ev(3, 'o', 'later'),
    ]
    expect(seekEnd(events, 0, 0.5)).toBe(0)
    expect(seekEnd(events, 0, 2.5)).toBe(5) // a time: all of that instant
    expect(seekEnd(events, 0, 2.5, { time: 2.5, label: 'tail -f log' })).toBe(3) // the command, not its output
    expect(seekEnd(events, 0, 2.5, { time: 2.5, label: 'next' })).toBe(5)
    expect(seekEnd(events, 1, 2.5, { time: 2.5, label: 'not in this segment' })).toBe(5)
    expect(seekEnd(events, 3, 2.5, { time: 2.5, label: 'tail -f log' })).toBe(5) // from past it: a plain time
    expect(seekEnd(events, 0, 9)).toBe(6)
    expect(seekEnd([], 0, 9)).toBe(0)
  })

  it('tells a marker by its event: same-instant twins, labels the index cut', () => {
    const ev = (time: number, code: string, data: string): CastEvent => ({ time, code, data })
    const events = [ev(1, 'm', 'ls'), ev(1, 'o', 'a\r\n'), ev(1, 'm', 'ls'), ev(1, 'o', 'b\r\n'), ev(2, 'o', 'c')]
    const ls = { time: 1, label: 'ls' }
    expect(seekEnd(events, 0, 1, ls)).toBe(1)
    expect(seekEnd(events, 0, 1, ls, 1)).toBe(3) // the second "ls" of that millisecond
    expect(seekEnd(events, 0, 1, ls, 2)).toBe(4) // no third: a plain time
    // The index keeps the first 1024 bytes of a label.
    const long = 'echo ' + 'é'.repeat(1500)
    const cut = long.slice(0, 5 + 509) // 5 + 509*2 = 1023 bytes
    expect(isMarkerEvent(ev(3, 'm', long), { time: 3, label: cut })).toBe(true)
    expect(isMarkerEvent(ev(3, 'm', 'echo éé and more'), { time: 3, label: 'echo éé' })).toBe(false) // short: not a cut
    expect(isMarkerEvent(ev(3, 'o', long), { time: 3, label: cut })).toBe(false)
    expect(isMarkerEvent(ev(3.001, 'm', 'ls'), { time: 3, label: 'ls' })).toBe(false)
  })

  it('finds the segment holding a marker when segments start at its instant', async () => {
    const ev = (time: number, code: string, data: string): CastEvent => ({ time, code, data })
    // A burst: "cat a" starts segment 1, its output fills it, segment 2 starts
    // in the same millisecond with "cat b".
    const segs = [seg(0.1), seg(2.5), seg(2.5), seg(9)]
    const evs: CastEvent[][] = [
      [ev(0.1, 'o', '$ '), ev(1, 'm', 'ls')],
      [ev(2.5, 'm', 'cat a'), ev(2.5, 'o', 'aaa')],
      [ev(2.5, 'o', 'aaa'), ev(2.5, 'm', 'cat b'), ev(2.5, 'o', 'bbb')],
      [ev(9, 'm', 'exit')],
    ]
    const loaded: number[] = []
    const load = async (j: number) => {
      loaded.push(j)
      return evs[j]
    }
    expect(await markerSegment(segs, 2, { time: 2.5, label: 'cat a' }, load)).toBe(1)
    expect(await markerSegment(segs, 2, { time: 2.5, label: 'cat b' }, load)).toBe(2)
    loaded.length = 0
    expect(await markerSegment(segs, 0, { time: 1, label: 'ls' }, load)).toBe(0)
    expect(loaded).toEqual([]) // a segment that starts before the marker holds it: nothing to look at
    expect(await markerSegment(segs, 2, { time: 2.5, label: 'nowhere' }, load)).toBe(2)
  })

  it('finds the segment of a time', () => {
    const segs = [seg(0), seg(10), seg(20), seg(60)]
    expect(segmentAt(segs, 0)).toBe(0)
    expect(segmentAt(segs, 9.99)).toBe(0)
    expect(segmentAt(segs, 10)).toBe(1)
    expect(segmentAt(segs, 59)).toBe(2)
    expect(segmentAt(segs, 3600)).toBe(3)
    expect(segmentAt([], 5)).toBe(-1)
  })

  it('plays at speed and skips idle time beyond the limit', () => {
    expect(advance(10, 1, 1, 10, 20, null)).toBe(11)
    expect(advance(10, 1, 4, 10, 20, null)).toBe(14)
    expect(advance(10, 1, 1, 10, 20, 2)).toBe(11) // within the first 2 s of the gap
    expect(advance(10, 3, 1, 10, 20, 2)).toBe(21) // 2 s of the gap, then 1 s past the next event
    expect(advance(10, 0.5, 16, 10, 100, 2)).toBe(106)
    expect(advance(10, 1, 1, 10, 10.5, 2)).toBe(11) // a short gap is played as is
    // The player's 33 ms ticks: the gap counts from the last event shown, not from t.
    expect(advance(11.5, 0.033, 1, 10, 20, 2)).toBeCloseTo(11.533)
    expect(advance(11.99, 0.033, 1, 10, 20, 2)).toBeCloseTo(20.023)
    // A seek into a long gap, past its first 2 s: on to the next event at the first tick.
    expect(advance(15, 0.033, 1, 10, 20, 2)).toBeCloseTo(20.033)
    // No event ahead (the end): plays on.
    expect(advance(15, 1, 1, 10, null, 2)).toBe(16)
  })

  it('parses sizes, filters markers and formats times', () => {
    expect(parseSize('120x40')).toEqual({ cols: 120, rows: 40 })
    expect(parseSize('0x40')).toBeNull()
    expect(parseSize('junk')).toBeNull()
    const ms = [
      { time: 1, label: 'ls -l' },
      { time: 5, label: '[denied] rm -rf /' },
    ]
    expect(filterMarkers(ms, 'RM')).toEqual([ms[1]])
    expect(filterMarkers(ms, ' ')).toEqual(ms)
    expect(formatTime(5)).toBe('0:05')
    expect(formatTime(3725)).toBe('1:02:05')
  })

  it('decompresses a gzip member', async () => {
    const data = new TextEncoder().encode('[1, "o", "héllo"]\n')
    const gz = await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer()
    expect(await gunzip(new Uint8Array(gz))).toBe('[1, "o", "héllo"]\n')
  })

  it('caches segments and loads each once', async () => {
    const loads: number[] = []
    const get = cachedSegments(async (i) => {
      loads.push(i)
      return `s${i}`
    }, 2)
    expect(await Promise.all([get(1), get(1), get(2)])).toEqual(['s1', 's1', 's2'])
    await get(3) // evicts 1
    await get(1)
    expect(loads).toEqual([1, 2, 3, 1])
  })
})
