// RFC 6238 time-based one-time codes (HMAC-SHA1, 6 digits, 30 s), as an
// authenticator app computes them from the secret the enrolment screen shows.
import { createHmac } from 'node:crypto'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** base32Decode decodes RFC 4648 base32 (case, spaces and padding ignored). */
export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '')
  const out = []
  let bits = 0
  let value = 0
  for (const ch of clean) {
    const v = ALPHABET.indexOf(ch)
    if (v < 0) throw new Error(`totp: invalid base32 character ${JSON.stringify(ch)}`)
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((value >>> bits) & 0xff)
    }
  }
  return Buffer.from(out)
}

/** hotp is the RFC 4226 code of key for counter. */
export function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac('sha1', key).update(msg).digest()
  const off = mac[mac.length - 1] & 0x0f
  const bin = (mac.readUInt32BE(off) & 0x7fffffff) % 10 ** digits
  return String(bin).padStart(digits, '0')
}

/** totpStep is the time step of a time in milliseconds. */
export const totpStep = (ms, period = 30) => Math.floor(ms / 1000 / period)

/** totp is the code of a base32 secret at a time in milliseconds. */
export function totp(secret, ms = Date.now(), { period = 30, digits = 6 } = {}) {
  return hotp(base32Decode(secret), totpStep(ms, period), digits)
}

/**
 * Authenticator hands out codes of one secret, never two of the same time step:
 * the server refuses a step that is not after the last one used (enrolment
 * included), so it waits for the next step when needed.
 */
export class Authenticator {
  constructor(secret, { period = 30 } = {}) {
    this.secret = secret
    this.period = period
    this.lastStep = -1
  }

  /** markUsed records that the code of the current step was just used (e.g. at enrolment). */
  markUsed(ms = Date.now()) {
    this.lastStep = Math.max(this.lastStep, totpStep(ms, this.period))
  }

  /** msUntilFresh is how long until a step after the last used one starts. */
  msUntilFresh(now = Date.now()) {
    if (totpStep(now, this.period) > this.lastStep) return 0
    return (this.lastStep + 1) * this.period * 1000 - now + 50
  }

  /** code waits (at most one period) for an unused step, marks it used and returns its code. */
  async code() {
    const wait = this.msUntilFresh()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const now = Date.now()
    this.lastStep = totpStep(now, this.period)
    return totp(this.secret, now, { period: this.period })
  }

  /** wrongCode is a 6-digit code that no step the server accepts now (±1) gives. */
  wrongCode(now = Date.now()) {
    const valid = new Set(
      [-1, 0, 1].map((d) => totp(this.secret, now + d * this.period * 1000, { period: this.period })),
    )
    for (let i = 0; ; i++) {
      const c = String((123456 + i * 111111) % 1000000).padStart(6, '0')
      if (!valid.has(c)) return c
    }
  }
}
