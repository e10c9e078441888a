// The asset node tree built from the flat node list (parent_id links).
import type { ID, Node } from '@/api'

/** NodeTreeOption is a node as Naive UI's tree takes it. */
// (a type alias, not an interface, so that it fits Naive UI's indexable option types)
export type NodeTreeOption = {
  key: ID
  label: string
  node: Node
  children?: NodeTreeOption[]
}

/** buildNodeTree links nodes to their parents; orphans become roots. Siblings sort by name. */
export function buildNodeTree(nodes: Node[], label: (n: Node) => string = (n) => n.name): NodeTreeOption[] {
  const byId = new Map<ID, NodeTreeOption>()
  for (const n of nodes) byId.set(n.id, { key: n.id, label: label(n), node: n })
  const roots: NodeTreeOption[] = []
  for (const opt of byId.values()) {
    const parentId = opt.node.parent_id
    const parent = parentId !== null && parentId !== undefined ? byId.get(parentId) : undefined
    if (parent && parent !== opt) {
      ;(parent.children ??= []).push(opt)
    } else {
      roots.push(opt)
    }
  }
  const sort = (list: NodeTreeOption[]) => {
    list.sort((a, b) => a.node.name.localeCompare(b.node.name))
    for (const o of list) if (o.children) sort(o.children)
  }
  sort(roots)
  return roots
}

/** nodePath names a node by its ancestors ("Default / web / prod"). */
export function nodePath(nodes: Node[], id: ID): string {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const names: string[] = []
  const seen = new Set<ID>()
  let cur = byId.get(id)
  while (cur && !seen.has(cur.id)) {
    seen.add(cur.id)
    names.unshift(cur.name)
    cur = cur.parent_id !== null ? byId.get(cur.parent_id) : undefined
  }
  return names.join(' / ')
}

/** subtreeIds lists a node and all its descendants. */
export function subtreeIds(nodes: Node[], id: ID): ID[] {
  const children = new Map<ID, ID[]>()
  for (const n of nodes) {
    if (n.parent_id === null) continue
    const list = children.get(n.parent_id) ?? []
    list.push(n.id)
    children.set(n.parent_id, list)
  }
  const out: ID[] = []
  const stack = [id]
  const seen = new Set<ID>()
  while (stack.length) {
    const cur = stack.pop() as ID
    if (seen.has(cur)) continue
    seen.add(cur)
    out.push(cur)
    stack.push(...(children.get(cur) ?? []))
  }
  return out
}
