import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

export const PAGE_SIZE = 50;

export async function fetchSuppressions(cursor: string | undefined, signal?: AbortSignal) {
  return unwrap(
    await api.GET('/api/v1/suppressions', {
      params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
      signal,
    }),
  );
}

export function useSuppressions(cursor: string | undefined, generation: number) {
  return useResource(`suppressions:${cursor ?? ''}:${generation}`, (signal) => fetchSuppressions(cursor, signal));
}

export async function addSuppression(email: string, reason: string) {
  return unwrap(await api.POST('/api/v1/suppressions', { body: { email, reason: reason || null } }));
}

export async function removeSuppression(email: string) {
  unwrap(await api.DELETE('/api/v1/suppressions/{email}', { params: { path: { email } } }));
}
