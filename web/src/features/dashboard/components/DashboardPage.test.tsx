import { render, screen, within } from '@testing-library/react';
import { setToken } from '../../../api/token';
import type { DashboardStats } from '../../../api/dashboardStats';
import { json, mockFetch } from '../../../test/fetchMock';
import DashboardPage from './DashboardPage';

const HEALTH = {
  status: 'up',
  checks: [
    { name: 'database', status: 'up', detail: { kind: 'sqlite' } },
    { name: 'change_stream', status: 'up', detail: { checkpoint: 10, head: 12, lag: 2 } },
    { name: 'email_queue', status: 'up', detail: { dead_letters: 3, queue: { delayed: 1, in_flight: 0, visible: 7 } } },
    { name: 'generator', status: 'up', detail: { active: 'template' } },
  ],
};

const METRICS = `# TYPE engage_emails_by_status gauge
engage_emails_by_status{status="sent"} 35
engage_emails_by_status{status="failed"} 2
engage_emails_total{status="sent"} 35
`;

function server(stats: Response) {
  return mockFetch((_r, url) => {
    if (url.pathname === '/health') return json(HEALTH);
    if (url.pathname === '/metrics') return new Response(METRICS, { headers: { 'Content-Type': 'text/plain' } });
    if (url.pathname === '/api/v1/stats') return stats;
    return json({}, 404);
  });
}

const section = (name: string) => screen.getByRole('region', { name });

describe('DashboardPage', () => {
  beforeEach(() => setToken('t'));

  it('says "not available" for aggregates the server does not have, instead of numbers', async () => {
    server(json({ type: '/problems/not-found', title: 'Not found', status: 404, detail: 'nothing is at this path' }, 404));
    render(<DashboardPage />);
    for (const name of ['Clients by tier', 'Score distribution', 'Emails per day, by status (last 14 days)', 'Who wrote the emails']) {
      expect(await within(section(name)).findByText('Not available')).toBeInTheDocument();
    }
  });

  it('shows pipeline health from /health and /metrics', async () => {
    server(json({}, 404));
    render(<DashboardPage />);
    const health = section('Pipeline health');
    expect(await within(health).findByText('Database: up')).toBeInTheDocument();
    const stat = (label: string) => within(health).getByText(label).nextSibling;
    expect(stat('Change stream lag (records)')).toHaveTextContent('2');
    expect(stat('Email queue (visible)')).toHaveTextContent('7');
    expect(stat('Dead letters')).toHaveTextContent('3');
    expect(await within(health).findByText('Failed emails')).toBeInTheDocument();
    expect(stat('Failed emails')).toHaveTextContent('2');
    expect(stat('Send rate (per minute)')).toHaveTextContent('Measuring…');
  });

  it('says no LLM spend is recorded when the template generator is active', async () => {
    server(json({}, 404));
    render(<DashboardPage />);
    const spend = section('LLM spend');
    expect(await within(spend).findByText('No LLM spend recorded')).toBeInTheDocument();
    expect(await within(spend).findByText(/No model is configured/)).toBeInTheDocument();
  });

  it('draws the aggregates when the server has them, with empty states for empty data', async () => {
    const stats: DashboardStats = {
      generated_at: '2026-11-29T00:00:00Z',
      clients: {
        total: 5,
        by_tier: { champion: 2, dormant: 3, engaged: 0, new: 0, at_risk: 0, lapsing: 0, unscored: 0 },
      },
      score_histogram: { bucket_width: 50, counts: [0, 0] },
      emails_per_day: [{ date: '2026-11-28', by_status: { sent: 4, failed: 1 } }],
      generators: { llm: 0, template: 0 },
      llm_cost_usd: null,
    };
    server(json(stats));
    render(<DashboardPage />);
    const tiers = await within(section('Clients by tier')).findByRole('list', { name: 'Clients by tier' });
    expect(within(tiers).getByText('Champion').parentElement).toHaveTextContent('Champion2');
    expect(within(section('Score distribution')).getByText('No scored clients yet')).toBeInTheDocument();
    expect(
      within(section('Emails per day, by status (last 14 days)')).getByRole('img', {
        name: 'Emails per day by status, last 14 days',
      }),
    ).toBeInTheDocument();
    expect(within(section('Who wrote the emails')).getByText('No emails in the last 14 days')).toBeInTheDocument();
  });
});
