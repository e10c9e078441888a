// The desktop app's recordings opened from disk, as a player's source.
import type { ReplayBinding } from '@/api'
import type { SegmentSource } from './cast'

/** desktopSource reads an opened recording through the desktop's bindings. */
export function desktopSource(b: ReplayBinding, id: string): SegmentSource {
  return {
    index: () => b.ReplayIndex(id),
    segment: (i: number) => b.ReplaySegment(id, i),
    keyframe: (i: number) => b.ReplayKeyframe(id, i),
  }
}

/** base64Blob turns the desktop's base64 answer into a Blob. */
export function base64Blob(b64: string): Blob {
  const bin = atob(b64)
  const bytes = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  return new Blob([bytes])
}
