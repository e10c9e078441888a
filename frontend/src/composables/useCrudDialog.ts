import { ref, shallowRef, type Ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { useFormError } from './useFormError'
import { useNotify } from './useNotify'

/** CrudDialogOptions says how a resource's form is filled and saved. */
export interface CrudDialogOptions<T, F> {
  /** form builds the form model for a row (undefined: creation). */
  form: (row?: T) => F
  /** save writes the form; row is null on creation. */
  save: (form: F, row: T | null) => Promise<unknown>
  /** saved runs after a successful save (reload the table). */
  saved?: () => void
}

/** useCrudDialog holds the create/edit dialog of a resource. */
export function useCrudDialog<T, F>(opts: CrudDialogOptions<T, F>) {
  const { t } = useI18n()
  const notify = useNotify()
  const show = ref(false)
  const row = shallowRef<T | null>(null)
  const form = ref(opts.form()) as Ref<F>
  const saving = ref(false)
  const error = useFormError()

  function openCreate(init?: Partial<F>): void {
    row.value = null
    form.value = { ...opts.form(), ...(init ?? {}) }
    error.clear()
    show.value = true
  }

  function openEdit(r: T): void {
    row.value = r
    form.value = opts.form(r)
    error.clear()
    show.value = true
  }

  async function submit(): Promise<void> {
    saving.value = true
    error.clear()
    try {
      await opts.save(form.value, row.value)
      show.value = false
      notify.success(row.value ? t('common.saved') : t('common.created'))
      opts.saved?.()
    } catch (err) {
      error.set(err)
    } finally {
      saving.value = false
    }
  }

  return { show, row, form, saving, error, openCreate, openEdit, submit }
}
