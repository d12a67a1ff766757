import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';
import { json, mockFetch, problem } from '../../../test/fetchMock';
import { client } from '../../../test/fixtures';
import { ActivityForm, activityFrom } from './ActivityForm';

function form(fields: Record<string, string>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
}

describe('activityFrom', () => {
  it('sends only the type for simple activities', () => {
    expect(activityFrom('login', form({ fix_id: 'ignored' }))).toEqual({ type: 'login' });
  });

  it('reads a Fix delivery and a Fix feedback, with an optional rating', () => {
    expect(activityFrom('fix_delivered', form({ fix_id: ' f1 ', items: '5' }))).toEqual({
      type: 'fix_delivered',
      fix_id: 'f1',
      items_sent: 5,
    });
    expect(activityFrom('fix_feedback', form({ fix_id: 'f1', items: '3', rating: '' }))).toEqual({
      type: 'fix_feedback',
      fix_id: 'f1',
      items_kept: 3,
      rating: null,
    });
    expect(activityFrom('fix_feedback', form({ fix_id: 'f1', items: '-2', rating: '4' }))).toMatchObject({
      items_kept: 0,
      rating: 4,
    });
  });
});

describe('ActivityForm', () => {
  it('records the chosen activity and hands back the updated client', async () => {
    const updated = client({ version: 3 });
    const { requests } = mockFetch(() => json(updated));
    const onRecorded = vi.fn();
    render(<ActivityForm client={client()} onRecorded={onRecorded} />);
    await userEvent.selectOptions(screen.getByLabelText('Activity'), 'fix_delivered');
    await userEvent.type(screen.getByLabelText('Fix id'), 'fix-9');
    await userEvent.click(screen.getByRole('button', { name: 'Record activity' }));
    expect(await screen.findByText(/Recorded\./)).toBeInTheDocument();
    expect(new URL(requests[0]?.url ?? '').pathname).toBe('/api/v1/users/usr_1/activity');
    expect(await requests[0]?.json()).toEqual({ type: 'fix_delivered', fix_id: 'fix-9', items_sent: 5 });
    expect(onRecorded).toHaveBeenCalledWith(updated);
  });

  it('shows the problem the API answers', async () => {
    mockFetch(() => problem(400, 'items_sent must be at most 10'));
    render(<ActivityForm client={client()} onRecorded={vi.fn()} />);
    await userEvent.click(screen.getByRole('button', { name: 'Record activity' }));
    expect(await screen.findByText('items_sent must be at most 10')).toBeInTheDocument();
  });
});
