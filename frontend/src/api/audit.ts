import type { ApiClient } from './client'
import { normalizeList } from './resource'
import type {
  AuditVerify,
  Command,
  FileTransfer,
  ListParams,
  ListResponse,
  LoginLog,
  OperationLog,
  Session,
} from './types'

function lister<T>(client: ApiClient, path: string) {
  return async (params: ListParams) => normalizeList(await client.get<ListResponse<T>>(path, { query: params }))
}

/** auditApi holds the audit trails. */
export function auditApi(client: ApiClient) {
  return {
    loginLogs: lister<LoginLog>(client, '/audit/login-logs'),
    operationLogs: lister<OperationLog>(client, '/audit/operation-logs'),
    verify: () => client.get<AuditVerify>('/audit/verify'),
    sessions: lister<Session>(client, '/sessions'),
    commands: lister<Command>(client, '/commands'),
    fileTransfers: lister<FileTransfer>(client, '/file-transfers'),
    /** recording returns a session's recording as asciicast v2 text. */
    recording: (id: string) => client.get<string>(`/sessions/${id}/recording`, { as: 'text' }),
  }
}
