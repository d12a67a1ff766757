import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

/** How many decisions and emails the timeline reads: the most recent ones. */
export const HISTORY_LIMIT = 50;

export async function fetchHistory(id: string, signal?: AbortSignal) {
  const [decisions, emails] = await Promise.all([
    api.GET('/api/v1/users/{id}/decisions', {
      params: { path: { id }, query: { limit: HISTORY_LIMIT } },
      signal,
    }),
    api.GET('/api/v1/users/{id}/emails', { params: { path: { id }, query: { limit: HISTORY_LIMIT } }, signal }),
  ]);
  const d = unwrap(decisions);
  const e = unwrap(emails);
  return {
    decisions: d.items,
    emails: e.items,
    truncated: Boolean(d.next_cursor || e.next_cursor),
  };
}

export function useHistory(id: string, version: number | undefined) {
  return useResource(version === undefined ? null : `history:${id}:${version}`, (signal) =>
    fetchHistory(id, signal),
  );
}
