// Reference data used by asset forms and tables: platforms.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { useApi, type ID, type Platform } from '@/api'

/** useCatalogStore caches reference data (platforms). */
export const useCatalogStore = defineStore('catalog', () => {
  const api = useApi()
  const platforms = ref<Platform[]>([])
  let pending: Promise<void> | null = null

  const platformById = computed(() => new Map(platforms.value.map((p) => [p.id, p])))

  function ensurePlatforms(): Promise<void> {
    if (!pending) {
      pending = api.admin.platforms
        .list()
        .then((list) => {
          platforms.value = list
        })
        .catch((err: unknown) => {
          pending = null
          throw err
        })
    }
    return pending
  }

  return {
    platforms,
    ensurePlatforms,
    platformName: (id: ID | null | undefined) => (id ? (platformById.value.get(id)?.name ?? String(id)) : ''),
    platform: (id: ID | null | undefined) => (id ? platformById.value.get(id) : undefined),
    invalidate: () => {
      pending = null
      platforms.value = []
    },
  }
})
