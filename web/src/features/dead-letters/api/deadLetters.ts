import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

export const PAGE_SIZE = 50;

export async function fetchDeadLetters(cursor: string | undefined, signal?: AbortSignal) {
  return unwrap(
    await api.GET('/api/v1/dead-letters', {
      params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
      signal,
    }),
  );
}

export function useDeadLetters(cursor: string | undefined, generation: number) {
  return useResource(`dead-letters:${cursor ?? ''}:${generation}`, (signal) => fetchDeadLetters(cursor, signal));
}

export async function redriveDeadLetter(id: string) {
  unwrap(await api.POST('/api/v1/dead-letters/{id}/redrive', { params: { path: { id } } }));
}

export async function redriveAll() {
  return unwrap(await api.POST('/api/v1/dead-letters/redrive', {}));
}
