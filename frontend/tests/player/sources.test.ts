import { describe, expect, it } from 'vitest'
import type { Api } from '@/api'
import type { RecordingIndex } from '@/api/types'
import { serverSource } from '@/components/player/sources'
import { desktopSource } from '@/components/player/desktopSource'
import type { ReplayBinding } from '@/api'

const index: RecordingIndex = {
  version: 2,
  kind: 'cast',
  duration: 10,
  size: 300,
  gzip: false,
  segments: [
    { time: 0, offset: 10, length: 100, cols: 80, rows: 24 },
    { time: 5, offset: 110, length: 190, cols: 100, rows: 30 },
  ],
  markers: [],
}

describe('player sources', () => {
  it('reads the index once, segments by byte range, keyframes one at a time (server)', async () => {
    const calls: string[] = []
    const api = {
      audit: {
        recordingIndex: async (id: string) => {
          calls.push(`index ${id}`)
          return index
        },
        recordingBytes: async (id: string, offset: number, length: number) => {
          calls.push(`bytes ${id} ${offset} ${length}`)
          return new TextEncoder().encode(`[5, "o", "at ${offset}"]\n`)
        },
        recordingKeyframe: async (id: string, i: number) => {
          calls.push(`keyframe ${id} ${i}`)
          return `\u001b[Hscreen ${i}`
        },
      },
    } as unknown as Api
    const src = serverSource(api, 's1')
    expect(await src.index()).toBe(index)
    expect(await src.segment(1)).toBe('[5, "o", "at 110"]\n')
    expect(await src.keyframe?.(1)).toBe('\u001b[Hscreen 1')
    await expect(src.segment(2)).rejects.toThrow('no segment 2')
    expect(calls).toEqual(['index s1', 'bytes s1 110 190', 'keyframe s1 1'])
  })

  it('asks the desktop bindings for the index, segments and keyframes', async () => {
    const calls: string[] = []
    const b = {
      ReplayIndex: async (id: string) => (calls.push(`index ${id}`), index),
      ReplaySegment: async (id: string, i: number) => (calls.push(`segment ${id} ${i}`), `seg ${i}`),
      ReplayKeyframe: async (id: string, i: number) => (calls.push(`keyframe ${id} ${i}`), `kf ${i}`),
    } as unknown as ReplayBinding
    const src = desktopSource(b, 'r1')
    expect(await src.index()).toBe(index)
    expect(await src.segment(1)).toBe('seg 1')
    expect(await src.keyframe?.(1)).toBe('kf 1')
    expect(calls).toEqual(['index r1', 'segment r1 1', 'keyframe r1 1'])
  })
})
