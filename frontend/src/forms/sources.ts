// Where the options of server-searched selects come from.
import type { ID, ListParams, ListResponse } from '@/api'

/** Option is a selectable object. */
export interface Option {
  id: ID
  label: string
}

/** OptionSource searches options on the server and names known ids. */
export interface OptionSource {
  search(q: string): Promise<Option[]>
  resolve(ids: ID[]): Promise<Option[]>
}

/** SEARCH_PAGE_SIZE is how many options one search shows. */
export const SEARCH_PAGE_SIZE = 50

/** optionSource builds a source over a list/get collection. */
export function optionSource<T extends { id: ID }>(
  list: (p: ListParams) => Promise<ListResponse<T>>,
  get: (id: ID) => Promise<T>,
  label: (item: T) => string,
  filters: ListParams = {},
): OptionSource {
  const toOption = (item: T): Option => ({ id: item.id, label: label(item) })
  return {
    async search(q) {
      const r = await list({ ...filters, search: q || undefined, page: 1, page_size: SEARCH_PAGE_SIZE, sort: 'name' })
      return r.items.map(toOption)
    },
    async resolve(ids) {
      const settled = await Promise.allSettled(ids.slice(0, SEARCH_PAGE_SIZE).map((id) => get(id)))
      return settled.flatMap((s) => (s.status === 'fulfilled' ? [toOption(s.value)] : []))
    },
  }
}
