// What the current user may reach: the node tree of its assets.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { useApi, type ID, type Node } from '@/api'
import { buildNodeTree } from '@/nodes/tree'

/** useMyAssetsStore holds the folder tree of the assets the user may reach. */
export const useMyAssetsStore = defineStore('myAssets', () => {
  const api = useApi()
  const nodes = ref<Node[]>([])
  const selectedNode = ref<ID | null>(null)
  const loading = ref(false)

  const tree = computed(() =>
    buildNodeTree(nodes.value, (n) => (n.asset_count !== undefined ? `${n.name} (${n.asset_count})` : n.name)),
  )

  async function loadNodes(): Promise<void> {
    loading.value = true
    try {
      nodes.value = await api.me.nodes()
    } finally {
      loading.value = false
    }
  }

  return { nodes, tree, selectedNode, loading, loadNodes, list: api.me.assets }
})
