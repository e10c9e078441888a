// Hash-mode routes (the same build runs at / in a browser and in the desktop window).
import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { isApiError } from '@/api'
import { i18n } from '@/i18n'
import { useSessionStore } from '@/stores/session'
import { allowed, type Access } from './access'

declare module 'vue-router' {
  interface RouteMeta {
    /** title is the i18n key of the page title. */
    title?: string
    access?: Access
    public?: boolean
  }
}

const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/views/LoginView.vue'),
    meta: { public: true, title: 'login.title' },
  },
  {
    // Offline replay (desktop app): no server, no sign-in.
    path: '/replay',
    name: 'replay',
    component: () => import('@/views/OfflineReplayView.vue'),
    meta: { public: true, title: 'replay.title' },
  },
  {
    path: '/',
    component: () => import('@/layouts/AppLayout.vue'),
    children: [
      { path: '', redirect: { name: 'my-assets' } },
      {
        path: 'my/assets',
        name: 'my-assets',
        component: () => import('@/views/MyAssetsView.vue'),
        meta: { title: 'menu.myAssets' },
      },
      {
        path: 'my/terminals',
        name: 'workspace',
        component: () => import('@/views/WorkspaceView.vue'),
        meta: { title: 'menu.workspace' },
      },
      {
        path: 'profile',
        name: 'profile',
        component: () => import('@/views/ProfileView.vue'),
        meta: { title: 'menu.profile' },
      },
      {
        path: 'admin/users',
        name: 'users',
        component: () => import('@/views/admin/UsersView.vue'),
        meta: { title: 'menu.users', access: 'admin' },
      },
      {
        path: 'admin/groups',
        name: 'groups',
        component: () => import('@/views/admin/GroupsView.vue'),
        meta: { title: 'menu.groups', access: 'admin' },
      },
      {
        path: 'admin/assets',
        name: 'assets',
        component: () => import('@/views/admin/AssetsView.vue'),
        meta: { title: 'menu.assets', access: 'admin' },
      },
      {
        path: 'admin/accounts',
        name: 'accounts',
        component: () => import('@/views/admin/AccountsView.vue'),
        meta: { title: 'menu.accounts', access: 'admin' },
      },
      {
        path: 'admin/zones',
        name: 'zones',
        component: () => import('@/views/admin/ZonesView.vue'),
        meta: { title: 'menu.zones', access: 'admin' },
      },
      {
        path: 'admin/permissions',
        name: 'permissions',
        component: () => import('@/views/admin/PermissionsView.vue'),
        meta: { title: 'menu.permissions', access: 'admin' },
      },
      {
        path: 'admin/command-filters',
        name: 'command-filters',
        component: () => import('@/views/admin/CommandFiltersView.vue'),
        meta: { title: 'menu.commandFilters', access: 'admin' },
      },
      {
        path: 'admin/login-acls',
        name: 'login-acls',
        component: () => import('@/views/admin/LoginAclsView.vue'),
        meta: { title: 'menu.loginAcls', access: 'system' },
      },
      {
        path: 'admin/settings',
        name: 'settings',
        component: () => import('@/views/admin/SettingsView.vue'),
        meta: { title: 'menu.settings', access: 'system' },
      },
      {
        path: 'admin/orgs',
        name: 'orgs',
        component: () => import('@/views/admin/OrgsView.vue'),
        meta: { title: 'menu.orgs', access: 'systemAdmin' },
      },
      {
        path: 'audit/login-logs',
        name: 'login-logs',
        component: () => import('@/views/audit/LoginLogsView.vue'),
        meta: { title: 'menu.loginLogs', access: 'audit' },
      },
      {
        path: 'audit/operation-logs',
        name: 'operation-logs',
        component: () => import('@/views/audit/OperationLogsView.vue'),
        meta: { title: 'menu.operationLogs', access: 'audit' },
      },
      {
        path: 'audit/live',
        name: 'live',
        component: () => import('@/views/live/LiveSessionsView.vue'),
        meta: { title: 'menu.live', access: 'audit' },
      },
      {
        path: 'audit/approvals',
        name: 'approvals',
        component: () => import('@/views/live/ApprovalsView.vue'),
        meta: { title: 'menu.approvals', access: 'audit' },
      },
      {
        path: 'audit/sessions',
        name: 'sessions',
        component: () => import('@/views/audit/SessionsView.vue'),
        meta: { title: 'menu.sessions', access: 'audit' },
      },
    ],
  },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

/** createAppRouter builds the router with its sign-in and access guard. */
export function createAppRouter() {
  const router = createRouter({ history: createWebHashHistory(), routes })

  router.beforeEach(async (to) => {
    const session = useSessionStore()
    if (to.meta.public) return true
    if (!session.isAuthenticated) return { name: 'login', query: { redirect: to.fullPath } }
    if (!session.me) {
      try {
        await session.loadMe()
      } catch (err) {
        session.clear()
        const expired = isApiError(err) && err.status === 401 ? { expired: '1' } : {}
        return { name: 'login', query: { redirect: to.fullPath, ...expired } }
      }
    }
    if (!allowed(to.meta.access, session.me)) return { name: 'my-assets' }
    return true
  })

  router.afterEach((to) => {
    const name = i18n.global.t('app.name')
    document.title = to.meta.title ? `${i18n.global.t(to.meta.title)} · ${name}` : name
  })

  return router
}
