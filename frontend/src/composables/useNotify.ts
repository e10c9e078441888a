import { h } from 'vue'
import { useI18n } from 'vue-i18n'
import { useMessage } from 'naive-ui'
import { errorText } from './errorText'

/** useNotify shows toasts (with stable test ids: toast-success, toast-error). */
export function useNotify() {
  const message = useMessage()
  const { t } = useI18n()
  const describe = (err: unknown) => errorText(err, t)
  return {
    describe,
    success(text: string): void {
      message.success(() => h('span', { 'data-testid': 'toast-success' }, text))
    },
    error(err: unknown): void {
      const text = describe(err)
      message.error(() => h('span', { 'data-testid': 'toast-error' }, text), { duration: 6000, closable: true })
    },
  }
}
