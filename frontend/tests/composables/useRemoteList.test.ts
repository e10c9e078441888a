import { describe, expect, it, vi } from 'vitest'
import type { ListParams, ListResponse } from '@/api'
import { useRemoteList } from '@/composables/useRemoteList'

type Row = { id: number }

function pageOf(total: number) {
  return vi.fn(async (p: ListParams): Promise<ListResponse<Row>> => {
    const size = p.page_size ?? 20
    const start = ((p.page ?? 1) - 1) * size
    const items = Array.from({ length: Math.max(0, Math.min(size, total - start)) }, (_, i) => ({ id: start + i + 1 }))
    return { items, total, page: p.page ?? 1, page_size: size }
  })
}

describe('useRemoteList', () => {
  it('asks the server for the first page with the default sort', async () => {
    const fetcher = pageOf(45)
    const list = useRemoteList(fetcher, { sort: 'name', pageSize: 20 })
    await list.load()
    expect(fetcher).toHaveBeenLastCalledWith({ page: 1, page_size: 20, sort: 'name' })
    expect(list.items.value).toHaveLength(20)
    expect(list.total.value).toBe(45)
  })

  it('sorts on the server and goes back to page 1', async () => {
    const fetcher = pageOf(45)
    const list = useRemoteList(fetcher, { sort: 'name' })
    list.setPage(3)
    list.setSorter({ columnKey: 'address', order: 'descend' })
    await vi.waitFor(() => expect(fetcher).toHaveBeenLastCalledWith({ page: 1, page_size: 20, sort: '-address' }))
    expect(list.sortOrder('address')).toBe('descend')
    list.setSorter({ columnKey: 'address', order: false })
    await vi.waitFor(() => expect(fetcher).toHaveBeenLastCalledWith({ page: 1, page_size: 20, sort: 'name' }))
  })

  it('searches on the server after typing pauses', async () => {
    vi.useFakeTimers()
    try {
      const fetcher = pageOf(5)
      const list = useRemoteList(fetcher, { debounceMs: 200 })
      list.setSearch('w')
      list.setSearch('we')
      list.setSearch('web')
      expect(fetcher).not.toHaveBeenCalled()
      await vi.advanceTimersByTimeAsync(250)
      expect(fetcher).toHaveBeenCalledTimes(1)
      expect(fetcher).toHaveBeenLastCalledWith({ page: 1, page_size: 20, search: 'web' })
    } finally {
      vi.useRealTimers()
    }
  })

  it('steps back when the page is past the end (after a deletion)', async () => {
    const fetcher = pageOf(21)
    const list = useRemoteList(fetcher, {})
    list.state.page = 5
    await list.load()
    await vi.waitFor(() => expect(list.state.page).toBe(2))
    await vi.waitFor(() => expect(list.items.value).toEqual([{ id: 21 }]))
  })

  it('keeps the error and ignores stale answers', async () => {
    let calls = 0
    const list = useRemoteList<Row>(async () => {
      calls++
      if (calls === 1) {
        await new Promise((r) => setTimeout(r, 30))
        return { items: [{ id: 99 }], total: 1, page: 1, page_size: 20 }
      }
      throw new Error('down')
    })
    const first = list.load()
    await list.load()
    await first
    expect(list.items.value).toEqual([])
    expect(list.error.value).toBeInstanceOf(Error)
    expect(list.loading.value).toBe(false)
  })
})
