import { useApi, type Asset, type User } from '@/api'
import { optionSource } from '@/forms/sources'

const named = (o: { name: string }) => o.name

/** useOptionSources gives the option sources of the administration forms. */
export function useOptionSources() {
  const { admin } = useApi()
  return {
    users: optionSource(admin.users.list, admin.users.get, (u: User) =>
      u.name ? `${u.username} (${u.name})` : u.username,
    ),
    groups: optionSource(admin.groups.list, admin.groups.get, named),
    assets: optionSource(admin.assets.list, admin.assets.get, (a: Asset) => `${a.name} (${a.address})`),
    zones: optionSource(admin.zones.list, admin.zones.get, named),
    commandGroups: optionSource(admin.commandGroups.list, admin.commandGroups.get, named),
  }
}
