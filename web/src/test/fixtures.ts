import type { Schemas } from '../api/client';

export function client(overrides: Partial<Schemas['ClientView']> = {}): Schemas['ClientView'] {
  return {
    id: 'usr_1',
    email: 'amara@example.com',
    first_name: 'Amara',
    last_name: 'Wang',
    time_zone: 'Europe/London',
    consent: { email_opt_in: true, unsubscribed: false },
    profile: { preferences: ['minimal'], top_size: 'M' },
    activity: { login_count: 3, last_login_at: '2026-11-01T10:00:00Z' },
    version: 3,
    created_at: '2026-01-01T09:00:00Z',
    updated_at: '2026-11-01T10:00:00Z',
    score: 64,
    tier: 'engaged',
    last_activity_at: '2026-11-01T10:00:00Z',
    suppressed: false,
    ...overrides,
  };
}

export function decision(overrides: Partial<Schemas['Decision']> = {}): Schemas['Decision'] {
  return {
    id: 'dec_1',
    user_id: 'usr_1',
    event_id: 'evt_1',
    event_type: 'client_created',
    user_version: 1,
    at: '2026-01-01T09:00:01Z',
    outcome: 'skip',
    campaign: null,
    reason: 'no_campaign_applies',
    explanation: "not sent, because no campaign applies to the client's current state",
    score: 40,
    tier: 'new',
    email_id: null,
    scheduled_for: null,
    ...overrides,
  };
}

export function email(overrides: Partial<Schemas['Email']> = {}): Schemas['Email'] {
  return {
    id: 'eml_1_welcome',
    user_id: 'usr_1',
    campaign: 'welcome',
    status: 'sent',
    subject: 'Welcome, Amara',
    preheader: 'Your stylist is waiting.',
    body_text: 'Hi Amara',
    body_html: '<p>Hi Amara</p>',
    generator: 'template',
    trigger_event_id: 'evt_2',
    decision_id: 'dec_2',
    created_at: '2026-02-01T12:00:00Z',
    sent_at: '2026-02-01T12:00:01Z',
    status_history: [{ status: 'pending', at: '2026-02-01T12:00:00Z' }],
    ...overrides,
  };
}
