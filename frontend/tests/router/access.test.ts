import { describe, expect, it } from 'vitest'
import type { Me } from '@/api'
import { allowed, type Access } from '@/router/access'

const user = (over: Partial<Me>): Me =>
  ({ role: 'user', org_role: 'org_user', is_admin: false, is_auditor: false, ...over }) as Me

const people = {
  user: user({}),
  orgAdmin: user({ org_role: 'org_admin', is_admin: true }),
  orgAuditor: user({ org_role: 'org_auditor', is_auditor: true }),
  sysAdmin: user({ role: 'system_admin', is_admin: true }),
  sysAuditor: user({ role: 'system_auditor', is_auditor: true }),
}

const table: [Access, keyof typeof people, boolean][] = [
  ['everyone', 'user', true],
  ['admin', 'user', false],
  ['admin', 'orgAdmin', true],
  ['admin', 'orgAuditor', true],
  ['audit', 'user', false],
  ['audit', 'orgAuditor', true],
  ['system', 'orgAdmin', false],
  ['system', 'sysAuditor', true],
  ['systemAdmin', 'sysAuditor', false],
  ['systemAdmin', 'sysAdmin', true],
]

describe('page access', () => {
  for (const [access, who, want] of table) {
    it(`${access} for ${who}: ${want}`, () => expect(allowed(access, people[who])).toBe(want))
  }
  it('lets nobody in before the user is known', () => expect(allowed('everyone', null)).toBe(false))
})
