import { describe, expect, it } from 'vitest'
import { isApiError, networkError, parseErrorBody } from '@/api/errors'

describe('parseErrorBody', () => {
  const cases: {
    name: string
    status: number
    text: string
    want: { code: string; message: string; field: string | null }
  }[] = [
    {
      name: 'envelope with field',
      status: 400,
      text: '{"error":{"code":"validation","message":"name: required","field":"name"}}',
      want: { code: 'validation', message: 'name: required', field: 'name' },
    },
    {
      name: 'envelope without field',
      status: 409,
      text: '{"error":{"code":"conflict","message":"node is not empty"}}',
      want: { code: 'conflict', message: 'node is not empty', field: null },
    },
    {
      name: 'envelope with empty field',
      status: 403,
      text: '{"error":{"code":"forbidden","message":"no","field":""}}',
      want: { code: 'forbidden', message: 'no', field: null },
    },
    {
      name: 'envelope missing code takes it from the status',
      status: 423,
      text: '{"error":{"message":"account locked"}}',
      want: { code: 'locked', message: 'account locked', field: null },
    },
    { name: 'plain text', status: 500, text: 'panic\n', want: { code: 'internal', message: 'panic', field: null } },
    { name: 'empty body', status: 404, text: '', want: { code: 'not_found', message: 'HTTP 404', field: null } },
    {
      name: 'other JSON',
      status: 400,
      text: '{"message":"x"}',
      want: { code: 'bad_request', message: '{"message":"x"}', field: null },
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const err = parseErrorBody(c.status, c.text)
      expect(isApiError(err)).toBe(true)
      expect({ code: err.code, message: err.message, field: err.field }).toEqual(c.want)
      expect(err.status).toBe(c.status)
    })
  }

  it('wraps network failures', () => {
    expect(networkError(new Error('offline'))).toMatchObject({ status: 0, code: 'network', message: 'offline' })
  })
})
