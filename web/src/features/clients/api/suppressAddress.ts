import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';

/** Adds the client's address to the suppression list: nothing is sent to it any more. */
export async function suppressAddress(email: string) {
  return unwrap(await api.POST('/api/v1/suppressions', { body: { email, reason: 'manual' } }));
}
