import { describe, expect, it } from 'vitest'
import { listParams, sortOrderOf, sortParam } from '@/tables/query'

describe('sort', () => {
  it('turns a column order into the API sort value', () => {
    expect(sortParam('name', 'ascend')).toBe('name')
    expect(sortParam('name', 'descend')).toBe('-name')
    expect(sortParam('name', false)).toBeUndefined()
    expect(sortParam(null, 'ascend')).toBeUndefined()
  })

  it('tells a column its order under a sort value', () => {
    expect(sortOrderOf('name', 'name')).toBe('ascend')
    expect(sortOrderOf('-name', 'name')).toBe('descend')
    expect(sortOrderOf('-created_at', 'name')).toBe(false)
    expect(sortOrderOf(undefined, 'name')).toBe(false)
    expect(sortOrderOf('name_x', 'name')).toBe(false)
  })
})

describe('listParams', () => {
  it('sends page, size, trimmed search, sort and the set filters', () => {
    expect(
      listParams({
        page: 3,
        pageSize: 50,
        search: '  web ',
        sort: '-name',
        filters: { node_id: 7, zone_id: null, username: '', success: false },
      }),
    ).toEqual({ page: 3, page_size: 50, search: 'web', sort: '-name', node_id: 7, success: false })
  })

  it('leaves out an empty search and no sort', () => {
    expect(listParams({ page: 1, pageSize: 20, search: ' ', sort: undefined, filters: {} })).toEqual({
      page: 1,
      page_size: 20,
    })
  })
})
