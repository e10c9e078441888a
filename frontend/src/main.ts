// Entry: wires the API for the host (browser or desktop), stores, i18n and router.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { apiKey, createHostApi, onReplayOpen, replayBinding, restoreToken } from './api'
import { i18n } from './i18n'
import { createAppRouter } from './router'
import { useSessionStore } from './stores/session'
import './style.css'

const app = createApp(App)
const api = createHostApi()
app.provide(apiKey, api)
app.use(createPinia())
app.use(i18n)
const router = createAppRouter()

// A refused session token (expired, revoked) sends the user back to the login page.
api.client.onUnauthorized(() => {
  const session = app.runWithContext(() => useSessionStore())
  if (!session.isAuthenticated) return
  session.clear()
  const current = router.currentRoute.value
  if (current.name !== 'login') {
    void router.push({ name: 'login', query: { expired: '1', redirect: current.fullPath } })
  }
})

// The desktop app may hold this profile's token from the last run: use it before the router's
// first navigation (which app.use(router) starts) decides between the login page and the app.
void restoreToken(api).finally(() => {
  app.use(router)
  app.mount('#app')
  // Desktop: recordings opened from the OS, the menu or a drop replay offline.
  const openReplay = (path: string) => void router.push({ name: 'replay', query: { path } })
  onReplayOpen(openReplay)
  void replayBinding()
    ?.PendingRecordings()
    .then((paths) => paths?.[0] && openReplay(paths[0]))
})
