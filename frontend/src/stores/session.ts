// The signed-in user: session token, profile (Me) and organization choice.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { useApi, type Me } from '@/api'

/** useSessionStore holds the signed-in user: token, Me and the organization worked in. */
export const useSessionStore = defineStore('session', () => {
  const api = useApi()
  const creds = api.client.credentials
  const token = ref<string | null>(creds.token())
  const orgId = ref<string | null>(creds.org())
  const me = ref<Me | null>(null)
  /** orgEpoch changes when the organization is switched: pages reload their data. */
  const orgEpoch = ref(0)

  const isAuthenticated = computed(() => token.value !== null)
  const isSystemAdmin = computed(() => me.value?.role === 'system_admin')
  const isSystemAuditor = computed(() => me.value?.role === 'system_auditor')
  /** canWrite: may change administration objects. */
  const canWrite = computed(() => me.value?.is_admin === true)
  /** canReadAdmin: may see the administration pages (auditors read them). */
  const canReadAdmin = computed(() => me.value?.is_admin === true || me.value?.is_auditor === true)
  const canAudit = canReadAdmin
  const canSwitchOrg = computed(
    () => (isSystemAdmin.value || isSystemAuditor.value) && (me.value?.orgs?.length ?? 0) > 0,
  )
  /** currentOrgId is the organization the UI works in. */
  const currentOrgId = computed(() => orgId.value ?? (me.value ? String(me.value.org_id) : null))

  /** adopt starts a session with a token (and the user when the login answered it). */
  function adopt(t: string, user: Me | null = null): void {
    creds.setToken(t)
    token.value = t
    me.value = user
  }

  /** loadMe (re)reads the current user. */
  async function loadMe(): Promise<Me> {
    const m = await api.auth.me()
    me.value = m
    if (orgId.value && !(m.orgs ?? []).some((o) => String(o.id) === orgId.value)) {
      setOrg(null)
    }
    return m
  }

  /** clear forgets the session locally. */
  function clear(): void {
    creds.setToken(null)
    creds.setOrg(null)
    token.value = null
    orgId.value = null
    me.value = null
  }

  /** logout ends the session on the server, then locally. */
  async function logout(): Promise<void> {
    try {
      if (token.value) await api.auth.logout()
    } catch {
      // the session may already be gone; forget it anyway
    } finally {
      clear()
    }
  }

  /** setOrg chooses the organization a system admin works in. */
  function setOrg(id: string | null): void {
    creds.setOrg(id)
    orgId.value = id
    orgEpoch.value++
  }

  return {
    token,
    me,
    orgId,
    orgEpoch,
    currentOrgId,
    isAuthenticated,
    isSystemAdmin,
    isSystemAuditor,
    canWrite,
    canReadAdmin,
    canAudit,
    canSwitchOrg,
    adopt,
    loadMe,
    clear,
    logout,
    setOrg,
  }
})
