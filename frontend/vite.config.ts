/// <reference types="vitest/config" />
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

const outDir = fileURLToPath(new URL('./dist', import.meta.url))

// keepGitkeep re-creates dist/.gitkeep after vite empties dist: frontend/embed.go
// embeds dist, and the repository keeps the folder with that file.
function keepGitkeep(): Plugin {
  return {
    name: 'portcullis-keep-gitkeep',
    apply: 'build',
    closeBundle() {
      mkdirSync(outDir, { recursive: true })
      writeFileSync(`${outDir}/.gitkeep`, '')
    },
  }
}

export default defineConfig({
  // Relative asset URLs: the same build is served by portcullisd at / and loaded
  // by the Wails desktop window.
  base: './',
  plugins: [vue(), keepGitkeep()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      // `npm run dev` against a local portcullisd (PORTCULLIS_API overrides the address).
      '/api': process.env.PORTCULLIS_API ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.ts'],
  },
})
