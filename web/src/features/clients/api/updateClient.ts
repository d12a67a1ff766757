import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import type { ClientPatch } from './types';

/** PATCH with the version the edit was made on: a 409 means someone changed the client since. */
export async function updateClient(id: string, patch: ClientPatch & { version: number }) {
  return unwrap(await api.PATCH('/api/v1/users/{id}', { params: { path: { id } }, body: patch }));
}
