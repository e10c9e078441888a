// User interface preferences kept in localStorage: language and theme.
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import { i18n, type Locale, isLocale, defaultLocale } from '@/i18n'

/** Theme is the color theme. */
export type Theme = 'light' | 'dark'

const LOCALE_KEY = 'portcullis.locale'
const THEME_KEY = 'portcullis.theme'

function readLocal(key: string): string | null {
  try {
    return window.localStorage.getItem(key)
  } catch {
    return null
  }
}

function writeLocal(key: string, v: string): void {
  try {
    window.localStorage.setItem(key, v)
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

/** usePrefsStore holds the language and theme, remembered in localStorage. */
export const usePrefsStore = defineStore('prefs', () => {
  const saved = readLocal(LOCALE_KEY)
  const locale = ref<Locale>(isLocale(saved) ? saved : defaultLocale(navigator.language))
  const theme = ref<Theme>(readLocal(THEME_KEY) === 'dark' ? 'dark' : 'light')

  const apply = () => {
    i18n.global.locale.value = locale.value
    document.documentElement.lang = locale.value
  }
  apply()
  watch(locale, (l) => {
    writeLocal(LOCALE_KEY, l)
    apply()
  })
  watch(theme, (t) => writeLocal(THEME_KEY, t))

  return {
    locale,
    theme,
    setLocale: (l: Locale) => {
      locale.value = l
    },
    toggleTheme: () => {
      theme.value = theme.value === 'dark' ? 'light' : 'dark'
    },
  }
})
