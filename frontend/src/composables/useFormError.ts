import { computed, shallowRef } from 'vue'
import { useI18n } from 'vue-i18n'
import { isApiError } from '@/api'
import { fieldFeedback, type FieldFeedback } from '@/forms/fieldErrors'
import { errorText } from './errorText'

/** FormError is the failure state of a form: a message and, maybe, the field at fault. */
export interface FormError {
  readonly message: string | null
  set(err: unknown): void
  clear(): void
  /** bind returns the props that mark a form item as failed. */
  bind(field: string): FieldFeedback
}

/** useFormError keeps the last error of a form and maps its field onto form items. */
export function useFormError(): FormError {
  const { t } = useI18n()
  const err = shallowRef<unknown>(null)
  const message = computed(() => (err.value === null ? null : errorText(err.value, t)))
  const fieldErr = computed(() =>
    isApiError(err.value) ? { field: err.value.field, message: err.value.message } : null,
  )
  return {
    get message() {
      return message.value
    },
    set(e: unknown) {
      err.value = e
    },
    clear() {
      err.value = null
    },
    bind: (field: string) => fieldFeedback(fieldErr.value, field),
  }
}
