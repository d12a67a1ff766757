import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

export async function fetchEngagement(id: string, signal?: AbortSignal) {
  return unwrap(await api.GET('/api/v1/users/{id}/engagement', { params: { path: { id } }, signal }));
}

/** `version` reloads the score after the client changes. */
export function useEngagement(id: string, version: number | undefined) {
  return useResource(version === undefined ? null : `engagement:${id}:${version}`, (signal) =>
    fetchEngagement(id, signal),
  );
}
