import type { ID, Named } from '@/api'

/**
 * idsOf reads a relation of an API object as ids: the `<x>_ids` field when the
 * backend sends it, else the ids of the embedded objects (`users: [{id,...}]`).
 */
export function idsOf(ids: ID[] | null | undefined, embedded: Named[] | null | undefined): ID[] {
  if (Array.isArray(ids)) return [...ids]
  if (Array.isArray(embedded)) return embedded.map((o) => o.id)
  return []
}

/** labelsOf returns id -> label of the embedded objects, to show selected items before a search. */
export function labelsOf(embedded: Named[] | null | undefined): { id: ID; label: string }[] {
  if (!Array.isArray(embedded)) return []
  return embedded.map((o) => ({ id: o.id, label: o.username ?? o.name }))
}
