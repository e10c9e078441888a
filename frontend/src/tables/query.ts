// Server-side list state: page, page size, search, sort and filters, and the
// query parameters they become (docs/api.md "Lists").
import type { ListParams } from '@/api'

/** SortOrder is Naive UI's sort order of a column. */
export type SortOrder = 'ascend' | 'descend' | false

/** sortParam turns a column key and order into the API's sort value ("name", "-name"). */
export function sortParam(columnKey: string | number | null | undefined, order: SortOrder): string | undefined {
  if (columnKey === null || columnKey === undefined || order === false) return undefined
  return order === 'descend' ? `-${columnKey}` : String(columnKey)
}

/** sortOrderOf tells the order of a column under the API's sort value. */
export function sortOrderOf(sort: string | undefined, columnKey: string): SortOrder {
  if (!sort) return false
  if (sort === columnKey) return 'ascend'
  if (sort === `-${columnKey}`) return 'descend'
  return false
}

/** ListState is what a table asks the server for. */
export interface ListState {
  page: number
  pageSize: number
  search: string
  sort: string | undefined
  filters: Record<string, string | number | boolean | null | undefined>
}

/** listParams builds the query parameters of a list call. */
export function listParams(s: ListState): ListParams {
  const p: ListParams = { page: s.page, page_size: s.pageSize }
  const search = s.search.trim()
  if (search) p.search = search
  if (s.sort) p.sort = s.sort
  for (const [k, v] of Object.entries(s.filters)) {
    if (v === undefined || v === null || v === '') continue
    p[k] = v
  }
  return p
}

/** PAGE_SIZES are the page sizes offered by tables. */
export const PAGE_SIZES = [10, 20, 50, 100]
