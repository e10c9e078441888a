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
  RecordingIndex,
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
    /** legalHold puts a session's recording on legal hold (retention keeps it) or releases it. */
    legalHold: (id: string, hold: boolean) => client.post<Session>(`/sessions/${id}/legal-hold`, { hold }),
    /** exportBundle returns a session's signed bundle (.pcbundle). */
    exportBundle: (id: string) => client.get<Blob>(`/sessions/${id}/export`, { as: 'blob' }),
    /** recordingIndex returns the seek index of a session's recording (built on first use), without keyframes. */
    recordingIndex: (id: string) => client.get<RecordingIndex>(`/sessions/${id}/recording/index`),
    /** recordingKeyframe returns the keyframe of segment i of the index ('' for a segment without one). */
    recordingKeyframe: (id: string, i: number) =>
      client.get<string>(`/sessions/${id}/recording/keyframes/${i}`, { as: 'text' }),
    /** recordingBytes returns bytes [offset, offset+length) of the recording as stored. */
    recordingBytes: (id: string, offset: number, length: number) =>
      client.get<Uint8Array>(`/sessions/${id}/recording/raw`, {
        as: 'bytes',
        headers: { Range: `bytes=${offset}-${offset + length - 1}` },
      }),
  }
}
