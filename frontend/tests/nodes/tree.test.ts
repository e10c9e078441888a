import { describe, expect, it } from 'vitest'
import type { Node } from '@/api'
import { buildNodeTree, nodePath, subtreeIds } from '@/nodes/tree'

const nodes: Node[] = [
  { id: 1, name: 'Default', parent_id: null },
  { id: 3, name: 'web', parent_id: 1 },
  { id: 2, name: 'db', parent_id: 1 },
  { id: 4, name: 'prod', parent_id: 3 },
  { id: 9, name: 'orphan', parent_id: 42 },
]

describe('node tree', () => {
  it('links children to parents, sorted by name, orphans at the top', () => {
    const tree = buildNodeTree(nodes)
    expect(tree.map((n) => n.label)).toEqual(['Default', 'orphan'])
    expect(tree[0].children?.map((n) => n.label)).toEqual(['db', 'web'])
    expect(tree[0].children?.[1].children?.map((n) => n.key)).toEqual([4])
  })

  it('labels nodes with the function given', () => {
    const tree = buildNodeTree(
      [{ id: 1, name: 'A', parent_id: null, asset_count: 3 }],
      (n) => `${n.name} (${n.asset_count})`,
    )
    expect(tree[0].label).toBe('A (3)')
  })

  it('names a node by its path', () => {
    expect(nodePath(nodes, 4)).toBe('Default / web / prod')
    expect(nodePath(nodes, 77)).toBe('')
  })

  it('lists a subtree', () => {
    expect(subtreeIds(nodes, 1).sort()).toEqual([1, 2, 3, 4])
    expect(subtreeIds(nodes, 3).sort()).toEqual([3, 4])
  })

  it('survives a cycle', () => {
    const cyclic: Node[] = [
      { id: 1, name: 'a', parent_id: 2 },
      { id: 2, name: 'b', parent_id: 1 },
    ]
    expect(nodePath(cyclic, 1)).toBe('b / a')
    expect(subtreeIds(cyclic, 1).sort()).toEqual([1, 2])
  })
})
