import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import type { components } from '../../../api/schema';

export type Activity = components['schemas']['Activity'];
export type ActivityType = Activity['type'];

/** The activities an operator may record, in the order the form offers them. */
export const ACTIVITY_TYPES: { type: ActivityType; label: string }[] = [
  { type: 'login', label: 'Logged in' },
  { type: 'order', label: 'Placed an order' },
  { type: 'fix_delivered', label: 'Fix delivered' },
  { type: 'fix_feedback', label: 'Fix feedback given' },
  { type: 'email_opened', label: 'Opened an email' },
  { type: 'email_clicked', label: 'Clicked a link in an email' },
];

export async function recordActivity(id: string, body: Activity) {
  return unwrap(await api.POST('/api/v1/users/{id}/activity', { params: { path: { id } }, body }));
}
