import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';

/**
 * Checks a token against the API before keeping it: the cheapest authenticated call,
 * one client of the list. Throws an ApiError (401 for a wrong token).
 */
export async function verifyToken(token: string, signal?: AbortSignal): Promise<void> {
  unwrap(
    await api.GET('/api/v1/users', {
      params: { query: { limit: 1 } },
      headers: { Authorization: `Bearer ${token}` },
      signal,
    }),
  );
}
