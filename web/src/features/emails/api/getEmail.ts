import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

export async function fetchEmail(id: string, signal?: AbortSignal) {
  return unwrap(await api.GET('/api/v1/emails/{id}', { params: { path: { id } }, signal }));
}

export function useEmail(id: string) {
  return useResource(`email:${id}`, (signal) => fetchEmail(id, signal));
}
