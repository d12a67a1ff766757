// One history for a client, newest first: what changed on the record and what the client
// did (from the record's activity facts), the processor's decisions and the emails.
import type { Tone } from '../../../components/Badge';
import { emailStatusTone } from '../../../components/Badge';
import { humanize } from '../../../lib/format';
import type { Schemas } from '../../../api/client';
import type { ClientView, Decision, Email } from './types';

export type ClientChange = Schemas['ClientChange'];

export type TimelineKind = 'change' | 'activity' | 'decision' | 'email';

export interface TimelineEntry {
  id: string;
  at: string;
  kind: TimelineKind;
  title: string;
  detail?: string;
  /** A short label shown as a badge: an email's status, a skip reason. */
  badge?: { label: string; tone: Tone };
  href?: string;
}

// For entries at the same instant, newest-first order shows the effect above its cause:
// the email above the decision that sent it, the decision above the change it decided on.
const RANK: Record<TimelineKind, number> = { email: 3, decision: 2, activity: 1, change: 0 };

/** `not sent, because …` → `Not sent, because …`. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function decisionEntry(d: Decision): TimelineEntry {
  const after = `After ${humanize(d.event_type).toLowerCase()}`;
  const scored = d.score != null ? `, score ${d.score}${d.tier ? ` (${humanize(d.tier).toLowerCase()})` : ''}` : '';
  const base = { id: `decision:${d.id}`, at: d.at, kind: 'decision' as const, detail: `${after}${scored}.` };
  if (d.outcome === 'skip') {
    return {
      ...base,
      title: sentence(d.explanation),
      badge: { label: d.reason ? humanize(d.reason) : 'Not sent', tone: 'neutral' },
    };
  }
  return {
    ...base,
    title: sentence(d.explanation),
    badge: d.outcome === 'schedule' ? { label: 'Scheduled', tone: 'info' } : { label: 'Send', tone: 'success' },
    href: d.email_id ? `/emails/${encodeURIComponent(d.email_id)}` : undefined,
  };
}

function emailEntry(e: Email): TimelineEntry {
  return {
    id: `email:${e.id}`,
    at: e.created_at,
    kind: 'email',
    title: `Email “${e.subject}”`,
    detail: `${humanize(e.campaign)} · written by ${e.generator}`,
    badge: { label: humanize(e.status), tone: emailStatusTone(e.status) },
    href: `/emails/${encodeURIComponent(e.id)}`,
  };
}

/** One write of the change log: the event it was published as, and what it changed. */
function changeEntry(c: ClientChange): TimelineEntry {
  const fields = c.changed_fields.map((f) => f.replace('activity.', '')).join(', ');
  return {
    id: `change:${c.seq}`,
    at: c.at,
    kind: 'change',
    title: c.event_type ? `Change: ${humanize(c.event_type).toLowerCase()}` : 'Change without an event',
    detail: `Version ${c.version}${fields ? ` · ${fields}` : ''}.`,
  };
}

/** Without a change log: the changes the record itself dates. */
function recordChanges(c: ClientView): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    { id: 'change:created', at: c.created_at, kind: 'change', title: 'Client created' },
  ];
  if (c.consent.unsubscribed && c.consent.unsubscribed_at) {
    entries.push({ id: 'change:unsubscribed', at: c.consent.unsubscribed_at, kind: 'change', title: 'Unsubscribed' });
  }
  return entries;
}

/** What the client did, from the activity facts on the record. */
function activityEntries(c: ClientView): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const a = c.activity;
  if (!a) return entries;
  for (const fix of a.fixes ?? []) {
    entries.push({
      id: `activity:fix:${fix.id}`,
      at: fix.delivered_at,
      kind: 'activity',
      title: `Fix ${fix.id} delivered`,
      detail: `${fix.items_sent} item${fix.items_sent === 1 ? '' : 's'} sent.`,
    });
    if (fix.feedback_at) {
      const kept = fix.items_kept != null ? `Kept ${fix.items_kept} of ${fix.items_sent}` : 'Feedback given';
      const rated = fix.rating != null ? `, rated ${fix.rating}/5` : '';
      entries.push({
        id: `activity:feedback:${fix.id}`,
        at: fix.feedback_at,
        kind: 'activity',
        title: `Feedback on Fix ${fix.id}`,
        detail: `${kept}${rated}.`,
      });
    }
  }
  if (a.last_login_at) {
    entries.push({
      id: 'activity:login',
      at: a.last_login_at,
      kind: 'activity',
      title: 'Last login',
      detail: a.login_count ? `${a.login_count} logins in all.` : undefined,
    });
  }
  if (a.last_order_at) {
    entries.push({
      id: 'activity:order',
      at: a.last_order_at,
      kind: 'activity',
      title: 'Last order',
      detail: a.order_count ? `${a.order_count} orders in all.` : undefined,
    });
  }
  if (a.last_email_open_at) {
    entries.push({ id: 'activity:open', at: a.last_email_open_at, kind: 'activity', title: 'Last email opened' });
  }
  if (a.last_email_click_at) {
    entries.push({ id: 'activity:click', at: a.last_email_click_at, kind: 'activity', title: 'Last email link clicked' });
  }
  return entries;
}

/**
 * The client's history, newest first. `changes` is the change log (null where the
 * backend keeps none: the record's own dates stand in).
 */
export function buildTimeline(
  client: ClientView,
  decisions: Decision[],
  emails: Email[],
  changes: ClientChange[] | null = null,
): TimelineEntry[] {
  const entries = [
    ...(changes ? changes.map(changeEntry) : recordChanges(client)),
    ...activityEntries(client),
    ...decisions.map(decisionEntry),
    ...emails.map(emailEntry),
  ];
  return entries.sort((x, y) => {
    const dt = Date.parse(y.at) - Date.parse(x.at);
    return dt !== 0 ? dt : RANK[y.kind] - RANK[x.kind];
  });
}
