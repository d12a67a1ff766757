import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import type { components } from '../../../api/schema';

export type NewClient = components['schemas']['NewClient'];

export async function createClient(body: NewClient) {
  return unwrap(await api.POST('/api/v1/users', { body }));
}
