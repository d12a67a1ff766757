import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';

export async function unsubscribeClient(id: string) {
  return unwrap(await api.POST('/api/v1/users/{id}/unsubscribe', { params: { path: { id } } }));
}

export async function resubscribeClient(id: string) {
  return unwrap(await api.POST('/api/v1/users/{id}/resubscribe', { params: { path: { id } } }));
}
