// The test's own TOTP against the RFC 6238 (appendix B) and RFC 4648 vectors,
// so that an e2e failure at the OTP step is never the helper's fault.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Authenticator, base32Decode, hotp, totp } from './lib/totp.mjs'

// "12345678901234567890" in base32
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'

test('base32Decode follows RFC 4648', () => {
  const cases = [
    ['', ''],
    ['MY======', 'f'],
    ['MZXQ====', 'fo'],
    ['MZXW6===', 'foo'],
    ['MZXW6YQ=', 'foob'],
    ['MZXW6YTB', 'fooba'],
    ['mzxw 6ytb oi', 'foobar'],
  ]
  for (const [input, want] of cases) {
    assert.equal(base32Decode(input).toString(), want, `decode ${JSON.stringify(input)}`)
  }
  assert.throws(() => base32Decode('M1'), /invalid base32/)
})

test('totp matches the RFC 6238 SHA-1 vectors', () => {
  const cases = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ]
  for (const [seconds, want] of cases) {
    assert.equal(totp(RFC_SECRET, seconds * 1000, { digits: 8 }), want, `T=${seconds}`)
    assert.equal(totp(RFC_SECRET, seconds * 1000), want.slice(2), `T=${seconds}, 6 digits`)
  }
  assert.equal(hotp(Buffer.from('12345678901234567890'), 1), '287082')
})

test('Authenticator never hands out the same step twice', async () => {
  const a = new Authenticator(RFC_SECRET, { period: 1 })
  const t0 = Date.now()
  a.markUsed(t0)
  assert.ok(a.msUntilFresh(t0) > 0)
  const code = await a.code()
  assert.match(code, /^\d{6}$/)
  assert.ok(Date.now() - t0 < 1500, 'waited at most one period')
  assert.ok(a.lastStep > Math.floor(t0 / 1000))
  assert.notEqual(a.wrongCode(), totp(RFC_SECRET, Date.now(), { period: 1 }))
})
