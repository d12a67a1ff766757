import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';
import { json, mockFetch, problem } from '../../../test/fetchMock';
import { client } from '../../../test/fixtures';
import { ProfileForm } from './ProfileForm';

describe('ProfileForm', () => {
  it('sends only the changed fields with the version they were edited on', async () => {
    const saved = client({ first_name: 'Amy', version: 4 });
    const { requests } = mockFetch(() => json(saved));
    const onSaved = vi.fn();
    render(<ProfileForm client={client()} onSaved={onSaved} onReload={vi.fn()} />);

    const first = screen.getByLabelText('First name');
    await userEvent.clear(first);
    await userEvent.type(first, 'Amy');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));

    await vi.waitFor(() => expect(onSaved).toHaveBeenCalledWith(saved));
    expect(requests[0]?.method).toBe('PATCH');
    expect(new URL(requests[0]?.url ?? '').pathname).toBe('/api/v1/users/usr_1');
    expect(await requests[0]?.json()).toEqual({ first_name: 'Amy', version: 3 });
  });

  it('replaces the whole style profile when one of its fields changes', async () => {
    const { requests } = mockFetch(() => json(client()));
    render(<ProfileForm client={client()} onSaved={vi.fn()} onReload={vi.fn()} />);
    await userEvent.type(screen.getByLabelText('Style preferences'), ', boho ');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await vi.waitFor(() => expect(requests).toHaveLength(1));
    expect(await requests[0]?.json()).toEqual({
      version: 3,
      profile: {
        top_size: 'M',
        bottom_size: null,
        shoe_size: null,
        budget: null,
        fit_notes: null,
        preferences: ['minimal', 'boho'],
      },
    });
  });

  it('explains a version conflict and offers to reload', async () => {
    mockFetch(() =>
      problem(409, 'the resource was changed: it is at version 5; read it again and retry', { current_version: 5 }),
    );
    const onReload = vi.fn();
    const onSaved = vi.fn();
    render(<ProfileForm client={client()} onSaved={onSaved} onReload={onReload} />);
    await userEvent.type(screen.getByLabelText('Last name'), 'son');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Someone else changed this client');
    expect(alert).toHaveTextContent('it is now at version 5, you edited version 3');
    await userEvent.click(screen.getByRole('button', { name: 'Reload latest version' }));
    expect(onReload).toHaveBeenCalledOnce();
    expect(onSaved).not.toHaveBeenCalled();
  });

  it('treats 412 Precondition Failed as a conflict too', async () => {
    mockFetch(() => problem(412, 'precondition failed'));
    render(<ProfileForm client={client()} onSaved={vi.fn()} onReload={vi.fn()} />);
    await userEvent.type(screen.getByLabelText('Budget'), '$100');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Someone else changed this client');
  });

  it('shows the server validation message for bad input', async () => {
    mockFetch(() => problem(422, 'time_zone: `Mars/Base` is not an IANA time zone', { field: 'time_zone' }));
    render(<ProfileForm client={client()} onSaved={vi.fn()} onReload={vi.fn()} />);
    const tz = screen.getByLabelText('Time zone');
    await userEvent.clear(tz);
    await userEvent.type(tz, 'Mars/Base');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('is not an IANA time zone');
  });

  it('does not call the API when nothing changed', async () => {
    const { fn } = mockFetch(() => json(client()));
    render(<ProfileForm client={client()} onSaved={vi.fn()} onReload={vi.fn()} />);
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(screen.getByText('Nothing to save: no field was changed.')).toBeInTheDocument();
    expect(fn).not.toHaveBeenCalled();
  });
});
