import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';
import { json, mockFetch } from '../../../test/fetchMock';
import { client } from '../../../test/fixtures';
import { ClientActions } from './ClientActions';

describe('ClientActions', () => {
  it('unsubscribes a subscribed client and hands back the updated record', async () => {
    const updated = client({ consent: { email_opt_in: true, unsubscribed: true }, version: 4 });
    const { requests } = mockFetch(() => json(updated));
    const onChanged = vi.fn();
    render(<ClientActions client={client()} onChanged={onChanged} />);
    await userEvent.click(screen.getByRole('button', { name: 'Unsubscribe' }));
    expect(await screen.findByText(/Unsubscribed: no more engagement emails/)).toBeInTheDocument();
    expect(new URL(requests[0]?.url ?? '').pathname).toBe('/api/v1/users/usr_1/unsubscribe');
    expect(onChanged).toHaveBeenCalledWith(updated);
  });

  it('offers to resubscribe an unsubscribed client', () => {
    mockFetch(() => json({}));
    render(<ClientActions client={client({ consent: { email_opt_in: true, unsubscribed: true } })} onChanged={vi.fn()} />);
    expect(screen.getByRole('button', { name: 'Resubscribe' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Unsubscribe' })).not.toBeInTheDocument();
  });

  it('asks for confirmation before suppressing the address', async () => {
    const { requests } = mockFetch(() => json({ email: 'amara@example.com', reason: 'manual', created_at: 'x' }, 201));
    render(<ClientActions client={client()} onChanged={vi.fn()} />);
    await userEvent.click(screen.getByRole('button', { name: 'Suppress address…' }));
    expect(requests).toHaveLength(0);
    await userEvent.click(screen.getByRole('button', { name: 'Confirm: suppress amara@example.com' }));
    expect(await screen.findByText(/amara@example.com is suppressed/)).toBeInTheDocument();
    expect(await requests[0]?.json()).toEqual({ email: 'amara@example.com', reason: 'manual' });
  });
});
