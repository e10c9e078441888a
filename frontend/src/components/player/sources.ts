// Where a player's recording comes from: the server (by HTTP range, so a long
// recording is never downloaded whole) or, in the desktop app, a local file.
import type { Api } from '@/api'
import { gunzip, type RecordingIndex, type SegmentSource } from './cast'

/** serverSource reads a session's recording from the API, one segment at a time. */
export function serverSource(api: Api, sessionId: string): SegmentSource {
  let idx: Promise<RecordingIndex> | null = null
  const index = () => (idx ??= api.audit.recordingIndex(sessionId))
  return {
    index,
    async segment(i: number) {
      const x = await index()
      const s = x.segments[i]
      if (!s) throw new Error(`no segment ${i}`)
      const bytes = await api.audit.recordingBytes(sessionId, s.offset, s.length)
      return x.gzip ? await gunzip(bytes) : new TextDecoder().decode(bytes)
    },
    keyframe: (i: number) => api.audit.recordingKeyframe(sessionId, i),
  }
}
