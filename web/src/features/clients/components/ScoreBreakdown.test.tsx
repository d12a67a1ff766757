import { render, screen, within } from '@testing-library/react';
import type { ScoreBreakdownData } from '../api/types';
import { ScoreBreakdown } from './ScoreBreakdown';

const breakdown: ScoreBreakdownData = {
  score: 64,
  tier: 'engaged',
  computed_at: '2026-11-29T17:33:25Z',
  components: [
    { name: 'recency', value: 0.6, weight: 0.35, contribution: 21.008, explanation: '61 days since the last activity, against a cadence of 83 days' },
    { name: 'frequency', value: 0.75, weight: 0.2, contribution: 15, explanation: '6 activities in the last 90 days (target 8)' },
    { name: 'email_engagement', value: 0.5, weight: 0.1, contribution: 5, explanation: 'no emails sent recently: neutral' },
    { name: 'brand_new_component', value: 1, weight: 0.35, contribution: 23, explanation: 'something new' },
  ],
  drivers: {
    days_since_last_activity: 60,
    days_since_last_fix: null,
    cadence_days: 82.76,
    fixes_delivered: 12,
    keep_rate: 0.683,
    average_rating: 3.667,
    profile_completeness: 66,
    weakest: 'email_engagement',
  },
};

describe('ScoreBreakdown', () => {
  it('shows the score as a gauge with its tier', () => {
    render(<ScoreBreakdown breakdown={breakdown} />);
    expect(screen.getByRole('img', { name: 'Engagement score 64 of 100, tier Engaged' })).toBeInTheDocument();
  });

  it('lists each component with a plain-language name, its share, points and the server explanation', () => {
    render(<ScoreBreakdown breakdown={breakdown} />);
    const recency = screen.getByRole('row', { name: /^Recency/ });
    expect(within(recency).getByText(/against their own rhythm between Fixes/)).toBeInTheDocument();
    const cells = within(recency).getAllByRole('cell').map((c) => c.textContent);
    expect(cells).toEqual(['60%', '35%', '21.0', '61 days since the last activity, against a cadence of 83 days']);
  });

  it('marks the weakest component and names it as the one a nudge helps most', () => {
    render(<ScoreBreakdown breakdown={breakdown} />);
    const email = screen.getByRole('row', { name: /^Email engagement/ });
    expect(within(email).getByText('Weakest')).toBeInTheDocument();
    expect(within(screen.getByRole('row', { name: /^Recency/ })).queryByText('Weakest')).not.toBeInTheDocument();
    const drivers = screen.getByLabelText('Score drivers');
    expect(within(drivers).getByText('A nudge would help most with').nextSibling).toHaveTextContent('Email engagement');
  });

  it('still shows a component it has no description for, by its humanized name', () => {
    render(<ScoreBreakdown breakdown={breakdown} />);
    expect(screen.getByRole('row', { name: /^Brand new component/ })).toBeInTheDocument();
  });

  it('explains missing drivers instead of showing zeros', () => {
    render(<ScoreBreakdown breakdown={breakdown} />);
    const drivers = screen.getByLabelText('Score drivers');
    expect(within(drivers).getByText('Days since last Fix').nextSibling).toHaveTextContent('No Fix yet');
    expect(within(drivers).getByText('Keep rate').nextSibling).toHaveTextContent('68%');
    expect(within(drivers).getByText('Average rating').nextSibling).toHaveTextContent('3.7 / 5');
  });
});
