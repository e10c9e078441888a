import { describe, expect, it } from 'vitest'
import { memoryCredentials, persistedCredentials } from '@/api/credentials'

describe('persistedCredentials', () => {
  it('hands every new token and every logout to the desktop, and keeps the rest in the page', async () => {
    const saved: string[] = []
    const c = persistedCredentials(memoryCredentials(), async (t) => {
      saved.push(t)
    })
    c.setToken('pcs_one')
    c.setOrg('2')
    c.setToken(null)
    await Promise.resolve()
    expect(saved).toEqual(['pcs_one', ''])
    expect(c.token()).toBeNull()
    expect(c.org()).toBe('2')
  })

  it('a failing save does not break the login', async () => {
    const c = persistedCredentials(memoryCredentials(), async () => {
      throw new Error('disk full')
    })
    c.setToken('pcs_two')
    await Promise.resolve()
    expect(c.token()).toBe('pcs_two')
  })
})
