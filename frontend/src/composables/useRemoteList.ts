import { getCurrentInstance, onBeforeUnmount, onMounted, reactive, ref, shallowRef, watch } from 'vue'
import type { ListParams, ListResponse } from '@/api'
import { listParams, sortOrderOf, sortParam, type ListState, type SortOrder } from '@/tables/query'

/** SorterChange is what Naive UI's data table emits on a header click. */
export interface SorterChange {
  columnKey: string | number
  order: SortOrder
}

/** RemoteListOptions tunes a server-side list. */
export interface RemoteListOptions {
  sort?: string
  pageSize?: number
  /** filters returns the resource-specific filters; the list reloads when they change. */
  filters?: () => ListState['filters']
  /** immediate loads on mount (default true). */
  immediate?: boolean
  /** debounceMs delays searches while typing. */
  debounceMs?: number
}

/** useRemoteList keeps a list that the server searches, sorts and pages. */
export function useRemoteList<T>(fetcher: (p: ListParams) => Promise<ListResponse<T>>, opts: RemoteListOptions = {}) {
  const state = reactive<ListState>({
    page: 1,
    pageSize: opts.pageSize ?? 20,
    search: '',
    sort: opts.sort,
    filters: {},
  })
  const items = shallowRef<T[]>([])
  const total = ref(0)
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  let seq = 0
  let timer: ReturnType<typeof setTimeout> | null = null

  const params = (): ListParams => listParams({ ...state, filters: opts.filters?.() ?? {} })

  async function load(): Promise<void> {
    const mine = ++seq
    loading.value = true
    try {
      const r = await fetcher(params())
      if (mine !== seq) return
      error.value = null
      // A deletion can leave the current page past the end: step back.
      if (r.items.length === 0 && r.total > 0 && state.page > 1) {
        state.page = Math.max(1, Math.ceil(r.total / state.pageSize))
        void load()
        return
      }
      items.value = r.items
      total.value = r.total
    } catch (err) {
      if (mine === seq) error.value = err
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  // schedule reloads from page 1 once typing pauses.
  function schedule(): void {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      state.page = 1
      void load()
    }, opts.debounceMs ?? 300)
  }

  function setSearch(s: string): void {
    state.search = s
    schedule()
  }

  function setPage(p: number): void {
    state.page = p
    void load()
  }

  function setPageSize(s: number): void {
    state.pageSize = s
    state.page = 1
    void load()
  }

  function setSorter(s: SorterChange | SorterChange[] | null): void {
    const one = Array.isArray(s) ? s[0] : s
    state.sort = (one ? sortParam(one.columnKey, one.order) : undefined) ?? opts.sort
    state.page = 1
    void load()
  }

  if (opts.filters) {
    watch(opts.filters, schedule, { deep: true })
  }

  if (getCurrentInstance()) {
    if (opts.immediate !== false) onMounted(load)
    onBeforeUnmount(() => {
      if (timer) clearTimeout(timer)
      seq++
    })
  }

  return {
    state,
    items,
    total,
    loading,
    error,
    load,
    params,
    setSearch,
    setPage,
    setPageSize,
    setSorter,
    sortOrder: (key: string) => sortOrderOf(state.sort, key),
  }
}

/** RemoteList is a list made by useRemoteList. */
export type RemoteList<T> = ReturnType<typeof useRemoteList<T>>
