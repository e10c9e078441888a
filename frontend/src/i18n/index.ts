// vue-i18n setup: English and Simplified Chinese, both complete (a test checks
// that they have the same keys; the zh-CN file is typed by the English one).
import { createI18n } from 'vue-i18n'
import en from './locales/en'
import zhCN from './locales/zh-CN'

/** MessageSchema is the shape of every locale. */
export type MessageSchema = typeof en

/** LOCALES are the supported locales with their own names. */
export const LOCALES = [
  { value: 'en', label: 'English' },
  { value: 'zh-CN', label: '简体中文' },
] as const

/** Locale is a supported locale. */
export type Locale = (typeof LOCALES)[number]['value']

/** isLocale narrows a stored value. */
export function isLocale(v: unknown): v is Locale {
  return LOCALES.some((l) => l.value === v)
}

/** defaultLocale picks the locale for a browser language. */
export function defaultLocale(browserLanguage: string | undefined): Locale {
  return browserLanguage?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en'
}

/** messages holds every locale's messages. */
export const messages: Record<Locale, MessageSchema> = { en, 'zh-CN': zhCN }

/** i18n is the app's translator, installed by main.ts. */
export const i18n = createI18n<[MessageSchema], Locale, false>({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages,
  missingWarn: false,
  fallbackWarn: false,
})
