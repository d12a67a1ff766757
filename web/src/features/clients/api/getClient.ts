import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

export async function fetchClient(id: string, signal?: AbortSignal) {
  return unwrap(await api.GET('/api/v1/users/{id}', { params: { path: { id } }, signal }));
}

export function useClient(id: string) {
  return useResource(`client:${id}`, (signal) => fetchClient(id, signal));
}
