import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';

/** Sends a failed email again (409 when its status does not allow it). */
export async function resendEmail(id: string) {
  return unwrap(await api.POST('/api/v1/emails/{id}/resend', { params: { path: { id } } }));
}
