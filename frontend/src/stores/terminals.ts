// The operator's workspace: the terminal and desktop tabs open in this window.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ID } from '@/api'

/** TerminalTab is one open session: an asset, an account, a protocol and what is allowed. */
export interface TerminalTab {
  key: string
  /** kind says which pane shows it: a terminal (SSH, telnet, databases) or a desktop (RDP, VNC). */
  kind: 'terminal' | 'desktop'
  assetId: ID
  assetName: string
  account: string
  /** protocol is the one asked for; empty lets the server choose (SSH first). */
  protocol: string
  /** copy and paste say whether the permission grants those actions. */
  copy: boolean
  paste: boolean
  /** upload and download say whether file transfer is granted (desktops). */
  upload: boolean
  download: boolean
}

/** TabRequest is what opening a tab needs; kind defaults to terminal. */
export type TabRequest = Omit<TerminalTab, 'key' | 'kind' | 'protocol' | 'upload' | 'download'> &
  Partial<Pick<TerminalTab, 'kind' | 'protocol' | 'upload' | 'download'>>

/** useTerminalsStore holds the open tabs; closing a tab ends its session. */
export const useTerminalsStore = defineStore('terminals', () => {
  const tabs = ref<TerminalTab[]>([])
  const active = ref<string | null>(null)
  let seq = 0

  function open(t: TabRequest): string {
    seq += 1
    const key = `t${seq}`
    tabs.value.push({ kind: 'terminal', protocol: '', upload: false, download: false, ...t, key })
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
