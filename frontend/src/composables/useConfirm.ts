import { useDialog, type ButtonProps } from 'naive-ui'
import { useI18n } from 'vue-i18n'
import { useNotify } from './useNotify'

/** testButton gives a dialog button a stable test id. */
function testButton(id: string): ButtonProps {
  return { 'data-testid': id } as unknown as ButtonProps
}

/** useConfirm asks before destructive actions (buttons confirm-ok / confirm-cancel). */
export function useConfirm() {
  const dialog = useDialog()
  const { t } = useI18n()
  const notify = useNotify()

  /** ask shows a warning; action runs on OK and its failure is shown as a toast. */
  function ask(opts: { title: string; content: string; positiveText?: string; action: () => Promise<unknown> }): void {
    dialog.warning({
      title: opts.title,
      content: opts.content,
      positiveText: opts.positiveText ?? t('common.confirm'),
      negativeText: t('common.cancel'),
      positiveButtonProps: testButton('confirm-ok'),
      negativeButtonProps: testButton('confirm-cancel'),
      onPositiveClick: async () => {
        try {
          await opts.action()
        } catch (err) {
          notify.error(err)
        }
      },
    })
  }

  return {
    ask,
    /** remove confirms the deletion of a named object. */
    remove(name: string, action: () => Promise<unknown>, onDone?: () => void): void {
      ask({
        title: t('common.deleteTitle'),
        content: t('common.deleteConfirm', { name }),
        positiveText: t('common.delete'),
        action: async () => {
          await action()
          notify.success(t('common.deleted'))
          onDone?.()
        },
      })
    },
  }
}
