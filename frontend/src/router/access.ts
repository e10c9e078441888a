// Who may open which page (the server enforces the same rules on every call).
import type { Me } from '@/api'

/** Access is a page's audience: admin pages are read by auditors too. */
export type Access = 'everyone' | 'admin' | 'audit' | 'system' | 'systemAdmin'

/** allowed reports whether the user may open a page of the given access. */
export function allowed(access: Access | undefined, me: Me | null): boolean {
  if (!me) return false
  switch (access ?? 'everyone') {
    case 'everyone':
      return true
    case 'admin':
    case 'audit':
      return me.is_admin || me.is_auditor
    case 'system':
      return me.role === 'system_admin' || me.role === 'system_auditor'
    case 'systemAdmin':
      return me.role === 'system_admin'
  }
}
