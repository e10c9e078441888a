// Action buttons of a table row (test ids <prefix>-<action>, inside the row <prefix>-row).
import { h, type VNode } from 'vue'
import { NButton } from 'naive-ui'

/** RowAction is one button of a row. */
export interface RowAction {
  key: string
  label: string
  onClick: () => void
  danger?: boolean
  show?: boolean
}

/** renderRowActions renders the visible actions of a row. */
export function renderRowActions(prefix: string, actions: RowAction[]): VNode {
  return h(
    'div',
    { class: 'row-actions' },
    actions
      .filter((a) => a.show !== false)
      .map((a) =>
        h(
          NButton,
          {
            size: 'small',
            text: true,
            type: a.danger ? 'error' : 'primary',
            'data-testid': `${prefix}-${a.key}`,
            onClick: (e: MouseEvent) => {
              e.stopPropagation()
              a.onClick()
            },
          },
          { default: () => a.label },
        ),
      ),
  )
}
