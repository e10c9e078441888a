import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'
import { defaultLocale, isLocale, messages } from '@/i18n'
import en from '@/i18n/locales/en'
import zhCN from '@/i18n/locales/zh-CN'

type Tree = { [k: string]: string | Tree }

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (typeof v === 'string') out.set(key, v)
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv)
  }
  return out
}

const enKeys = flatten(en)
const zhKeys = flatten(zhCN)

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return p.endsWith('locales') ? [] : sourceFiles(p)
    return /\.(ts|vue)$/.test(f) ? [p] : []
  })
}

describe('locales', () => {
  it('en and zh-CN have exactly the same keys', () => {
    const onlyEn = [...enKeys.keys()].filter((k) => !zhKeys.has(k))
    const onlyZh = [...zhKeys.keys()].filter((k) => !enKeys.has(k))
    expect(onlyEn, 'keys missing from zh-CN').toEqual([])
    expect(onlyZh, 'keys missing from en').toEqual([])
  })

  it('has no empty message', () => {
    for (const [locale, keys] of [
      ['en', enKeys],
      ['zh-CN', zhKeys],
    ] as const) {
      const empty = [...keys].filter(([, v]) => v.trim() === '').map(([k]) => k)
      expect(empty, locale).toEqual([])
    }
  })

  it('uses the same placeholders in both locales', () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    for (const [k, v] of enKeys) {
      expect(placeholders(zhKeys.get(k) ?? ''), k).toEqual(placeholders(v))
    }
  })

  it('compiles every message in both locales (no stray @ or |)', () => {
    const i18n = createI18n({ legacy: false, locale: 'en', messages })
    const params = {
      n: 1,
      name: 'x',
      detail: 'y',
      what: 'z',
      created: 1,
      updated: 2,
      errors: 3,
      users: 1,
      groups: 2,
      assets: 3,
      nodes: 4,
      login: 5,
      operation: 6,
    }
    for (const locale of ['en', 'zh-CN'] as const) {
      i18n.global.locale.value = locale
      for (const key of enKeys.keys()) {
        let out = ''
        expect(() => (out = i18n.global.t(key, params)), `${locale}: ${key}`).not.toThrow()
        expect(out, `${locale}: ${key}`).not.toBe(key)
        expect(out, `${locale}: ${key}`).not.toMatch(/\{\w+\}/)
      }
    }
  })

  it('defines every key the source code uses', () => {
    const used = new Set<string>()
    const dynamicPrefixes = new Set<string>()
    for (const file of sourceFiles(join(__dirname, '..', 'src'))) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/\bt\(\s*(['`])([\w.${}-]+)\1/g)) {
        const key = m[2]
        if (key.includes('${')) dynamicPrefixes.add(key.slice(0, key.indexOf('${')))
        else used.add(key)
      }
      for (const m of text.matchAll(/(?:title|label): '([a-zA-Z]+\.[\w.]+)'/g)) used.add(m[1])
    }
    expect(used.size).toBeGreaterThan(100)
    const missing = [...used].filter((k) => !enKeys.has(k))
    expect(missing).toEqual([])
    for (const prefix of dynamicPrefixes) {
      expect(
        [...enKeys.keys()].some((k) => k.startsWith(prefix)),
        prefix,
      ).toBe(true)
    }
  })
})

describe('locale choice', () => {
  it('defaults to Chinese for Chinese browsers and English otherwise', () => {
    expect(defaultLocale('zh-CN')).toBe('zh-CN')
    expect(defaultLocale('zh-TW')).toBe('zh-CN')
    expect(defaultLocale('en-US')).toBe('en')
    expect(defaultLocale('fr')).toBe('en')
    expect(defaultLocale(undefined)).toBe('en')
  })

  it('accepts only supported locales', () => {
    expect(isLocale('en')).toBe(true)
    expect(isLocale('zh-CN')).toBe(true)
    expect(isLocale('de')).toBe(false)
    expect(isLocale(null)).toBe(false)
  })
})
