import type { ApiClient } from './client'
import type { ID, ListParams, ListResponse } from './types'

/** Resource is the CRUD surface of one REST collection. */
export interface Resource<T, W> {
  readonly path: string
  list(params?: ListParams): Promise<ListResponse<T>>
  get(id: ID): Promise<T>
  create(input: W): Promise<T>
  update(id: ID, input: Partial<W>): Promise<T>
  remove(id: ID): Promise<void>
}

/** normalizeList accepts a list answer or a bare array (defensive). */
export function normalizeList<T>(v: ListResponse<T> | T[] | null | undefined): ListResponse<T> {
  if (Array.isArray(v)) return { items: v, total: v.length, page: 1, page_size: v.length }
  if (!v) return { items: [], total: 0, page: 1, page_size: 0 }
  return { ...v, items: v.items ?? [], total: v.total ?? (v.items ?? []).length }
}

/** resource builds the CRUD calls of the collection at path. */
export function resource<T, W>(client: ApiClient, path: string): Resource<T, W> {
  return {
    path,
    list: async (params) => normalizeList(await client.get<ListResponse<T>>(path, { query: params })),
    get: (id) => client.get<T>(`${path}/${id}`),
    create: (input) => client.post<T>(path, input),
    update: (id, input) => client.patch<T>(`${path}/${id}`, input),
    remove: (id) => client.delete(`${path}/${id}`),
  }
}

/** listAll reads every page of a list (bounded), for small collections such as nodes. */
export async function listAll<T>(
  list: (p: ListParams) => Promise<ListResponse<T>>,
  params: ListParams = {},
  maxPages = 20,
): Promise<T[]> {
  const pageSize = 500
  const out: T[] = []
  for (let page = 1; page <= maxPages; page++) {
    const r = await list({ ...params, page, page_size: pageSize })
    out.push(...r.items)
    if (r.items.length < pageSize || out.length >= r.total) break
  }
  return out
}
