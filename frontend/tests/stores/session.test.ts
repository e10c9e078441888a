// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { apiKey, createApi, type Me } from '@/api'
import { memoryCredentials } from '@/api/credentials'
import { useSessionStore } from '@/stores/session'
import { testClient, type Recorded, type Reply } from '../helpers'

const sysAdmin: Me = {
  id: 1,
  username: 'admin',
  name: 'Admin',
  email: '',
  role: 'system_admin',
  org_role: 'org_admin',
  org_id: 1,
  org_name: 'Default',
  totp_enabled: false,
  mfa_required: false,
  must_change_password: false,
  is_admin: true,
  is_auditor: false,
  orgs: [
    { id: 1, name: 'Default' },
    { id: 2, name: 'Lab' },
  ],
}

function setup(route: (r: Recorded) => Reply, token: string | null = 'pcs_1', org: string | null = null) {
  const credentials = memoryCredentials(token, org)
  const { client, seen } = testClient(route, { credentials })
  const app = createApp({})
  app.provide(apiKey, createApi(client))
  const pinia = createPinia()
  app.use(pinia)
  setActivePinia(pinia)
  return { session: app.runWithContext(() => useSessionStore()), seen, credentials }
}

describe('session store', () => {
  beforeEach(() => window.sessionStorage.clear())

  it('loads the user and derives what it may do', async () => {
    const { session } = setup(() => ({ json: sysAdmin }))
    await session.loadMe()
    expect(session.isSystemAdmin).toBe(true)
    expect(session.canWrite).toBe(true)
    expect(session.canSwitchOrg).toBe(true)
    expect(session.currentOrgId).toBe('1')
  })

  it('sends the chosen organization and forgets one the user cannot see', async () => {
    const { session, seen, credentials } = setup(() => ({ json: sysAdmin }), 'pcs_1', '2')
    await session.loadMe()
    expect(seen[0].headers['X-Portcullis-Org']).toBe('2')
    expect(session.currentOrgId).toBe('2')
    session.setOrg('99')
    await session.loadMe()
    expect(session.orgId).toBeNull()
    expect(credentials.org()).toBeNull()
  })

  it('logs out on the server and locally, even when the server fails', async () => {
    const { session, seen, credentials } = setup(() => ({ status: 500, text: 'boom' }))
    await session.logout()
    expect(seen.map((r) => r.url)).toEqual(['/api/v1/auth/logout'])
    expect(session.token).toBeNull()
    expect(credentials.token()).toBeNull()
  })
})
