// The operator's workspace: the terminal tabs open in this window.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ID } from '@/api'

/** TerminalTab is one open terminal: an asset, an account and what is allowed. */
export interface TerminalTab {
  key: string
  assetId: ID
  assetName: string
  account: string
  /** copy and paste say whether the permission grants those actions. */
  copy: boolean
  paste: boolean
}

/** useTerminalsStore holds the open terminal tabs; closing a tab ends its session. */
export const useTerminalsStore = defineStore('terminals', () => {
  const tabs = ref<TerminalTab[]>([])
  const active = ref<string | null>(null)
  let seq = 0

  function open(t: Omit<TerminalTab, 'key'>): string {
    seq += 1
    const key = `t${seq}`
    tabs.value.push({ ...t, key })
    active.value = key
    return key
  }

  function close(key: string): void {
    const i = tabs.value.findIndex((t) => t.key === key)
    if (i < 0) return
    tabs.value.splice(i, 1)
    if (active.value === key) active.value = tabs.value[Math.min(i, tabs.value.length - 1)]?.key ?? null
  }

  return { tabs, active, open, close }
})
