import { describe, expect, it } from 'vitest'
import { errorText } from '@/composables/errorText'
import { ApiError } from '@/api/errors'
import { UnexpectedLoginStatus } from '@/auth/loginFlow'
import { formatBytes, formatDuration, isoToMs, msToIso, prettyJson } from '@/format/time'

describe('formats', () => {
  it('formats durations', () => {
    expect(formatDuration('2025-01-01T00:00:00Z', '2025-01-01T00:00:09Z')).toBe('9s')
    expect(formatDuration('2025-01-01T00:00:00Z', '2025-01-01T00:02:05Z')).toBe('2m 05s')
    expect(formatDuration('2025-01-01T00:00:00Z', '2025-01-01T01:02:03Z')).toBe('1h 02m 03s')
    expect(formatDuration('2025-01-01T00:00:00Z', null)).toBe('')
  })

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB')
    expect(formatBytes(undefined)).toBe('')
  })

  it('converts picker values', () => {
    expect(msToIso(Date.UTC(2025, 5, 1))).toBe('2025-06-01T00:00:00.000Z')
    expect(msToIso(null)).toBeNull()
    expect(isoToMs('2025-06-01T00:00:00Z')).toBe(Date.UTC(2025, 5, 1))
    expect(isoToMs('garbage')).toBeNull()
  })

  it('pretty-prints JSON and keeps other text', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}')
    expect(prettyJson('not json')).toBe('not json')
    expect(prettyJson('')).toBe('')
  })
})

describe('errorText', () => {
  const t = (key: string, named?: Record<string, unknown>) => `${key}${named ? JSON.stringify(named) : ''}`
  it('shows the API message', () => {
    expect(errorText(new ApiError(409, 'conflict', 'node is not empty'), t)).toBe('node is not empty')
  })
  it('explains network failures', () => {
    expect(errorText(new ApiError(0, 'network', 'Failed to fetch'), t)).toBe(
      'errors.network{"detail":"Failed to fetch"}',
    )
  })
  it('explains unknown login steps and other errors', () => {
    expect(errorText(new UnexpectedLoginStatus('x'), t)).toBe('errors.loginStatus')
    expect(errorText(new Error('boom'), t)).toBe('errors.unexpected{"detail":"boom"}')
    expect(errorText('plain', t)).toBe('plain')
  })
})
