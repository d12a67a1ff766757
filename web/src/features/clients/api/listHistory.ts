import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

/** How many decisions and emails the timeline reads: the most recent ones. */
export const HISTORY_LIMIT = 50;

export async function fetchHistory(id: string, signal?: AbortSignal) {
  const [decisions, emails, changes] = await Promise.all([
    api.GET('/api/v1/users/{id}/decisions', {
      params: { path: { id }, query: { limit: HISTORY_LIMIT } },
      signal,
    }),
    api.GET('/api/v1/users/{id}/emails', { params: { path: { id }, query: { limit: HISTORY_LIMIT } }, signal }),
    api.GET('/api/v1/users/{id}/changes', { params: { path: { id }, query: { limit: HISTORY_LIMIT } }, signal }),
  ]);
  const d = unwrap(decisions);
  const e = unwrap(emails);
  // The AWS backend keeps no change log (501): the timeline then shows what the
  // record itself says (created, unsubscribed).
  const c = changes.response.status === 501 ? null : unwrap(changes);
  return {
    decisions: d.items,
    emails: e.items,
    changes: c?.items ?? null,
    truncated: Boolean(d.next_cursor || e.next_cursor || c?.next_cursor),
  };
}

export function useHistory(id: string, version: number | undefined) {
  return useResource(version === undefined ? null : `history:${id}:${version}`, (signal) =>
    fetchHistory(id, signal),
  );
}
