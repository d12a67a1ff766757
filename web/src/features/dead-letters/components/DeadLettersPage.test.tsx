import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setToken } from '../../../api/token';
import { json, mockFetch } from '../../../test/fetchMock';
import DeadLettersPage from './DeadLettersPage';

const letter = {
  id: 'dl_1',
  source_queue: 'email',
  body: { event_id: 'evt_7' },
  receive_count: 5,
  sent_at: '2026-11-01T10:00:00Z',
  last_error: 'smtp: 554 rejected',
};

describe('DeadLettersPage', () => {
  it('lists dead letters and redrives one, then shows the refreshed list', async () => {
    let remaining = [letter];
    const { requests } = mockFetch((request, url) => {
      if (request.method === 'POST' && url.pathname === '/api/v1/dead-letters/dl_1/redrive') {
        remaining = [];
        return new Response(null, { status: 204 });
      }
      return json({ items: remaining, next_cursor: null });
    });
    setToken('t');
    render(<DeadLettersPage />);
    expect(await screen.findByText('Last error: smtp: 554 rejected')).toBeInTheDocument();
    expect(screen.getByText(/received 5 times/)).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Redrive dl_1' }));
    expect(await screen.findByText('dl_1 went back to email.')).toBeInTheDocument();
    expect(await screen.findByText('No dead letters')).toBeInTheDocument();
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('has an empty state, with "Redrive all" disabled', async () => {
    mockFetch(() => json({ items: [], next_cursor: null }));
    setToken('t');
    render(<DeadLettersPage />);
    expect(await screen.findByText('No dead letters')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Redrive all' })).toBeDisabled();
  });
});
