import { onMounted, ref, type Ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { useFormError } from './useFormError'
import { useNotify } from './useNotify'

/** useSettingsForm loads one settings document into a form and writes it back. */
export function useSettingsForm<T>(opts: { get: () => Promise<T>; put: (v: T) => Promise<T>; toBody?: (v: T) => T }) {
  const { t } = useI18n()
  const notify = useNotify()
  const form = ref<T | null>(null) as Ref<T | null>
  const loading = ref(false)
  const saving = ref(false)
  const error = useFormError()

  async function load(): Promise<void> {
    loading.value = true
    error.clear()
    try {
      form.value = await opts.get()
    } catch (err) {
      error.set(err)
    } finally {
      loading.value = false
    }
  }

  async function save(): Promise<void> {
    if (!form.value) return
    saving.value = true
    error.clear()
    try {
      const body = opts.toBody ? opts.toBody(form.value) : form.value
      const saved = await opts.put(body)
      if (saved && typeof saved === 'object') form.value = saved
      notify.success(t('common.saved'))
    } catch (err) {
      error.set(err)
    } finally {
      saving.value = false
    }
  }

  onMounted(load)
  return { form, loading, saving, error, load, save }
}
