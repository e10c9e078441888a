// The organization's asset node tree (administration).
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { listAll, useApi, type ID, type Node } from '@/api'
import { buildNodeTree, nodePath } from '@/nodes/tree'

/** useNodesStore holds the organization's asset node tree. */
export const useNodesStore = defineStore('nodes', () => {
  const api = useApi()
  const nodes = ref<Node[]>([])
  const loading = ref(false)
  const loaded = ref(false)

  const tree = computed(() => buildNodeTree(nodes.value))

  async function load(): Promise<void> {
    loading.value = true
    try {
      nodes.value = await listAll((p) => api.admin.nodes.list(p), { sort: 'name' })
      loaded.value = true
    } finally {
      loading.value = false
    }
  }

  async function ensure(): Promise<void> {
    if (!loaded.value) await load()
  }

  async function create(name: string, parentId: ID | null): Promise<Node> {
    const n = await api.admin.nodes.create({ name, parent_id: parentId })
    await load()
    return n
  }

  async function rename(id: ID, name: string): Promise<void> {
    await api.admin.nodes.update(id, { name })
    await load()
  }

  async function remove(id: ID): Promise<void> {
    await api.admin.nodes.remove(id)
    await load()
  }

  return {
    nodes,
    tree,
    loading,
    load,
    ensure,
    create,
    rename,
    remove,
    path: (id: ID) => nodePath(nodes.value, id),
    invalidate: () => {
      loaded.value = false
      nodes.value = []
    },
  }
})
