import { render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { client, decision, email } from '../../../test/fixtures';
import { buildTimeline } from '../api/timeline';
import { ClientTimeline } from './ClientTimeline';

const c = client({
  created_at: '2026-01-01T09:00:00Z',
  consent: { email_opt_in: true, unsubscribed: true, unsubscribed_at: '2026-03-01T08:00:00Z' },
  activity: {
    last_login_at: '2026-02-15T10:00:00Z',
    login_count: 4,
    fixes: [
      {
        id: 'fx-1',
        delivered_at: '2026-01-20T10:00:00Z',
        items_sent: 5,
        items_kept: 3,
        rating: 4,
        feedback_at: '2026-01-25T10:00:00Z',
      },
    ],
  },
});

const skipped = decision({ id: 'dec_1', at: '2026-01-01T09:00:01Z' });
const sent = decision({
  id: 'dec_2',
  at: '2026-02-01T12:00:00Z',
  event_type: 'fix_feedback_given',
  outcome: 'send',
  campaign: 'welcome',
  reason: null,
  explanation: 'sent welcome',
  email_id: 'eml_1_welcome',
  score: 70,
  tier: 'engaged',
});
const mail = email({ id: 'eml_1_welcome', created_at: '2026-02-01T12:00:00Z' });

describe('buildTimeline', () => {
  it('merges record changes, activity, decisions and emails newest first', () => {
    const entries = buildTimeline(c, [skipped, sent], [mail]);
    expect(entries.map((e) => e.id)).toEqual([
      'change:unsubscribed',
      'activity:login',
      'email:eml_1_welcome',
      'decision:dec_2',
      'activity:feedback:fx-1',
      'activity:fix:fx-1',
      'decision:dec_1',
      'change:created',
    ]);
  });

  it('puts an email above the decision that sent it when both happen at the same instant', () => {
    const entries = buildTimeline(client({ activity: {} }), [sent], [mail]);
    expect(entries.slice(0, 2).map((e) => e.kind)).toEqual(['email', 'decision']);
  });

  it('shows the change log, when there is one, in place of the dates on the record', () => {
    const entries = buildTimeline(c, [], [], [
      { seq: 9, at: '2026-03-01T08:00:00Z', event_type: 'consent_changed', version: 4, changed_fields: ['consent'] },
      { seq: 8, at: '2026-02-20T08:00:00Z', event_type: null, version: 3, changed_fields: [] },
      { seq: 1, at: '2026-01-01T09:00:00Z', event_type: 'client_created', version: 1, changed_fields: [] },
    ]);
    const changes = entries.filter((e) => e.kind === 'change');
    expect(changes.map((e) => e.title)).toEqual([
      'Change: consent changed',
      'Change without an event',
      'Change: client created',
    ]);
    expect(changes[0]?.detail).toBe('Version 4 · consent.');
    // The activity facts are still there.
    expect(entries.some((e) => e.title === 'Fix fx-1 delivered')).toBe(true);
  });

  it('works for a client with no activity facts at all', () => {
    const entries = buildTimeline(client({ activity: undefined }), [], []);
    expect(entries).toEqual([expect.objectContaining({ id: 'change:created', title: 'Client created' })]);
  });
});

describe('ClientTimeline', () => {
  function renderTimeline() {
    render(
      <MemoryRouter>
        <ClientTimeline entries={buildTimeline(c, [skipped, sent], [mail])} />
      </MemoryRouter>,
    );
    return within(screen.getByRole('list', { name: 'Client timeline' })).getAllByRole('listitem');
  }

  it('says why nothing was sent, as a sentence, with the reason', () => {
    const items = renderTimeline();
    const skip = items[6];
    expect(skip).toHaveTextContent("Not sent, because no campaign applies to the client's current state");
    expect(skip).toHaveTextContent('No campaign applies');
    expect(skip).toHaveTextContent('After client created, score 40 (new).');
  });

  it('links a sent decision and its email to the email page', () => {
    renderTimeline();
    expect(screen.getByRole('link', { name: 'Sent welcome' })).toHaveAttribute('href', '/emails/eml_1_welcome');
    expect(screen.getByRole('link', { name: 'Email “Welcome, Amara”' })).toHaveAttribute('href', '/emails/eml_1_welcome');
  });

  it('shows feedback on a Fix in words', () => {
    renderTimeline();
    expect(screen.getByText('Kept 3 of 5, rated 4/5.')).toBeInTheDocument();
  });

  it('gives every entry a machine-readable time', () => {
    const items = renderTimeline();
    expect(items[0]?.querySelector('time')).toHaveAttribute('dateTime', '2026-03-01T08:00:00Z');
  });

  it('has an empty state', () => {
    render(<ClientTimeline entries={[]} />);
    expect(screen.getByText('Nothing has happened yet')).toBeInTheDocument();
  });
});
