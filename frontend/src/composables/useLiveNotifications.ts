// Real-time notifications for admins and auditors: commands waiting for
// approval (with approve/deny for admins) and commands the filters denied or
// flagged, from /ws/events. Reconnects after a drop.
import { h, onBeforeUnmount, onMounted } from 'vue'
import { useI18n } from 'vue-i18n'
import { useRouter } from 'vue-router'
import { NButton, NSpace, useNotification } from 'naive-ui'
import { useApi, type Approval, type LiveEvent } from '@/api'
import { useSessionStore } from '@/stores/session'

const RECONNECT_MS = 5000

export function useLiveNotifications(): void {
  const api = useApi()
  const session = useSessionStore()
  const notification = useNotification()
  const router = useRouter()
  const { t } = useI18n()
  let ws: WebSocket | null = null
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  function approval(a: Approval) {
    if (a.status !== 'pending') return
    const n = notification.warning({
      title: t('notify.approvalTitle'),
      content: t('notify.approvalBody', {
        user: a.username,
        asset: `${a.account}@${a.asset_name}`,
        rule: a.filter_name,
      }),
      description: a.command,
      duration: 0,
      meta: () => h('span', { 'data-testid': 'notify-approval' }),
      action: () =>
        h(NSpace, { size: 4 }, () => [
          ...(session.me?.is_admin
            ? [
                h(
                  NButton,
                  {
                    size: 'small',
                    type: 'primary',
                    'data-testid': 'notify-approve',
                    onClick: async () => {
                      n.destroy()
                      await api.live.approve(a.id).catch(() => undefined)
                    },
                  },
                  { default: () => t('approvals.approve') },
                ),
                h(
                  NButton,
                  {
                    size: 'small',
                    type: 'error',
                    secondary: true,
                    onClick: async () => {
                      n.destroy()
                      await api.live.deny(a.id).catch(() => undefined)
                    },
                  },
                  { default: () => t('approvals.deny') },
                ),
              ]
            : []),
          h(
            NButton,
            { size: 'small', quaternary: true, onClick: () => void router.push({ name: 'approvals' }) },
            { default: () => t('menu.approvals') },
          ),
        ]),
    })
  }

  function command(c: NonNullable<LiveEvent['command']>) {
    if (c.verdict !== 'denied' && c.verdict !== 'warned') return
    const notify = c.verdict === 'denied' ? notification.error : notification.warning
    notify({
      title: t(`notify.${c.verdict}`),
      content: () =>
        h(
          'span',
          { 'data-testid': `notify-${c.verdict}` },
          t('notify.commandBody', { user: c.username, asset: `${c.account}@${c.asset_name}` }),
        ),
      description: c.input,
      duration: 15000,
    })
  }

  async function connect() {
    if (stopped || !session.canAudit) return
    try {
      ws = await api.live.events()
    } catch {
      timer = setTimeout(() => void connect(), RECONNECT_MS)
      return
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return
      const e = JSON.parse(ev.data) as LiveEvent
      if (e.type === 'approval' && e.approval) approval(e.approval)
      else if (e.type === 'command' && e.command) command(e.command)
    }
    ws.onclose = () => {
      ws = null
      if (!stopped) timer = setTimeout(() => void connect(), RECONNECT_MS)
    }
  }

  onMounted(() => void connect())
  onBeforeUnmount(() => {
    stopped = true
    clearTimeout(timer)
    ws?.close()
  })
}
