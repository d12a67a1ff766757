import type { Schemas } from '../../../api/client';

export type ClientView = Schemas['ClientView'];
export type Tier = Schemas['Tier'];
export type ScoreBreakdownData = Schemas['ScoreBreakdown'];
export type Decision = Schemas['Decision'];
export type Email = Schemas['Email'];
export type Preview = Schemas['Preview'];
export type ClientPatch = Schemas['ClientPatch'];

export const TIERS: Tier[] = ['champion', 'engaged', 'new', 'at_risk', 'lapsing', 'dormant'];

/** The default campaigns (the server has no endpoint listing the configured ones). */
export const CAMPAIGNS = ['welcome', 'complete_style_profile', 'schedule_next_fix', 'fix_feedback', 'win_back'];

/** The latest thing the client did, from the activity facts on the record. */
export function lastActivityAt(client: Pick<ClientView, 'activity'>): string | null {
  const a = client.activity;
  if (!a) return null;
  const times = [
    a.last_login_at,
    a.last_order_at,
    a.last_email_open_at,
    a.last_email_click_at,
    ...(a.fixes ?? []).flatMap((f) => [f.delivered_at, f.feedback_at]),
    ...(a.recent ?? []),
  ].filter((t): t is string => Boolean(t));
  if (times.length === 0) return null;
  return times.reduce((latest, t) => (Date.parse(t) > Date.parse(latest) ? t : latest));
}
