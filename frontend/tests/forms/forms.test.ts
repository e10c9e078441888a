import { describe, expect, it } from 'vitest'
import type { Permission } from '@/api'
import { fieldFeedback, fieldMatches } from '@/forms/fieldErrors'
import { idsOf, labelsOf } from '@/forms/ids'
import {
  accountForm,
  accountInput,
  assetForm,
  assetInput,
  gatewayForm,
  gatewayInput,
  permissionForm,
  permissionInput,
  platformProtocols,
  userForm,
  userInput,
} from '@/forms/resources'

describe('field errors', () => {
  const cases: [string | null, string, boolean][] = [
    ['port', 'port', true],
    ['protocols[0].port', 'protocols', true],
    ['settings.smtp', 'settings', true],
    ['portal', 'port', false],
    [null, 'port', false],
    ['', 'port', false],
  ]
  for (const [errField, field, want] of cases) {
    it(`${errField} belongs to ${field}: ${want}`, () => expect(fieldMatches(errField, field)).toBe(want))
  }

  it('marks only the field at fault', () => {
    const err = { field: 'address', message: 'address: required' }
    expect(fieldFeedback(err, 'address')).toEqual({ validationStatus: 'error', feedback: 'address: required' })
    expect(fieldFeedback(err, 'name')).toEqual({})
    expect(fieldFeedback(null, 'name')).toEqual({})
  })
})

describe('relations', () => {
  it('prefers *_ids and falls back to embedded objects', () => {
    expect(idsOf([3, 4], [{ id: 9, name: 'x' }])).toEqual([3, 4])
    expect(idsOf(undefined, [{ id: 9, name: 'x' }])).toEqual([9])
    expect(idsOf(null, null)).toEqual([])
    expect(
      labelsOf([
        { id: 1, name: 'Alice', username: 'alice' },
        { id: 2, name: 'ops' },
      ]),
    ).toEqual([
      { id: 1, label: 'alice' },
      { id: 2, label: 'ops' },
    ])
  })
})

describe('write-only secrets', () => {
  it('sends the user password on creation and leaves it out of an edit when empty', () => {
    expect(userInput({ ...userForm(), username: ' bob ', password: '' }, false)).toMatchObject({
      username: 'bob',
      password: '',
    })
    expect(userInput({ ...userForm(), username: 'bob', password: '' }, true)).not.toHaveProperty('password')
    expect(userInput({ ...userForm(), username: 'bob', password: 'x' }, true)).toHaveProperty('password', 'x')
  })

  it('does the same for account and gateway secrets', () => {
    expect(accountInput({ ...accountForm(), secret: '' }, true)).not.toHaveProperty('secret')
    expect(accountInput({ ...accountForm(), secret: 's3' }, true)).toHaveProperty('secret', 's3')
    expect(gatewayInput({ ...gatewayForm(), secret: '' }, true)).not.toHaveProperty('secret')
    expect(gatewayInput({ ...gatewayForm(), secret: 'k' }, false)).toHaveProperty('secret', 'k')
  })

  it('names an account after its username when no name is given', () => {
    expect(accountInput({ ...accountForm(undefined, 4), username: ' root ', name: '' }, false)).toMatchObject({
      asset_id: 4,
      username: 'root',
      name: 'root',
    })
  })
})

describe('assets', () => {
  it('starts a new asset in the chosen folder', () => {
    expect(assetForm(undefined, 12).node_ids).toEqual([12])
    expect(assetForm(undefined, null).node_ids).toEqual([])
  })

  it('reads an asset’s folders from node_ids or nodes', () => {
    const base = {
      id: 1,
      name: 'a',
      address: 'h',
      platform_id: 1,
      protocols: [],
      zone_id: null,
      labels: null,
      is_active: true,
      comment: '',
    }
    expect(assetForm({ ...base, nodes: [{ id: 5, name: 'web' }] }).node_ids).toEqual([5])
    expect(assetForm({ ...base, node_ids: [6] }).node_ids).toEqual([6])
  })

  it('drops unnamed protocol rows and sends numeric ports', () => {
    const f = {
      ...assetForm(),
      name: ' web ',
      protocols: [
        { name: 'ssh', port: '2222' as unknown as number },
        { name: '', port: 1 },
      ],
    }
    expect(assetInput(f)).toMatchObject({ name: 'web', protocols: [{ name: 'ssh', port: 2222 }] })
  })

  it('parses platform default protocols', () => {
    expect(platformProtocols(['ssh/22', 'rdp/3389', 'telnet', '/x'])).toEqual([
      { name: 'ssh', port: 22 },
      { name: 'rdp', port: 3389 },
      { name: 'telnet', port: 23 },
    ])
    expect(platformProtocols(null)).toEqual([])
  })
})

describe('permissions', () => {
  it('defaults to every account and protocol, and every action but forwarding', () => {
    const f = permissionForm()
    expect(f.accounts).toEqual(['@ALL'])
    expect(f.protocols).toEqual(['all'])
    expect(f.actions).toEqual(['connect', 'upload', 'download', 'copy', 'paste', 'share'])
  })

  it('round-trips dates through the date pickers as RFC 3339', () => {
    const p: Permission = {
      id: 1,
      name: 'ops',
      users: [{ id: 3, name: 'alice' }],
      group_ids: [4],
      asset_ids: [],
      node_ids: [8],
      accounts: ['@INPUT', 'root'],
      protocols: ['ssh'],
      actions: ['connect'],
      date_start: '2025-01-01T00:00:00Z',
      date_expired: null,
      time_window: ' mon-fri 09:00-18:00 ',
      is_active: true,
    }
    const f = permissionForm(p)
    expect(f.user_ids).toEqual([3])
    expect(f.date_start).toBe(Date.UTC(2025, 0, 1))
    expect(permissionInput(f)).toMatchObject({
      user_ids: [3],
      group_ids: [4],
      node_ids: [8],
      accounts: ['@INPUT', 'root'],
      date_start: '2025-01-01T00:00:00.000Z',
      date_expired: null,
      time_window: 'mon-fri 09:00-18:00',
    })
  })
})
