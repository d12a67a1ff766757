import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { getToken, setToken } from '../../../api/token';
import { Layout } from '../../../app/Layout';
import { RequireAuth } from '../../../app/RequireAuth';
import { json, mockFetch, problem } from '../../../test/fetchMock';
import { SignInPage } from './SignInPage';

function renderApp(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/sign-in" element={<SignInPage />} />
        <Route
          element={
            <RequireAuth>
              <Layout />
            </RequireAuth>
          }
        >
          <Route index element={<h1>Dashboard</h1>} />
          <Route path="clients" element={<h1>Clients</h1>} />
        </Route>
      </Routes>
    </MemoryRouter>,
  );
}

const GOOD = 'dev-token-0123456789abcdef';

function server() {
  return mockFetch((request) =>
    request.headers.get('Authorization') === `Bearer ${GOOD}`
      ? json({ items: [], next_cursor: null })
      : problem(401, 'the bearer token is not valid'),
  );
}

describe('sign-in', () => {
  it('sends a signed-out visitor to the sign-in page', () => {
    renderApp('/clients');
    expect(screen.getByRole('heading', { level: 1, name: 'Sign in to engage' })).toBeInTheDocument();
    expect(screen.getByRole('main')).toBeInTheDocument();
  });

  it('shows a clear error for a token the API rejects, and keeps nothing', async () => {
    const { requests } = server();
    renderApp('/sign-in');
    await userEvent.type(screen.getByLabelText('API token'), 'wrong-token');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('That token was not accepted');
    expect(screen.getByLabelText('API token')).toHaveAttribute('aria-invalid', 'true');
    expect(requests[0]?.headers.get('Authorization')).toBe('Bearer wrong-token');
    expect(getToken()).toBeNull();
  });

  it('keeps a valid token for the tab and returns to the page asked for', async () => {
    server();
    renderApp('/clients');
    await userEvent.type(screen.getByLabelText('API token'), `  ${GOOD}  `);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Clients' })).toBeInTheDocument();
    expect(sessionStorage.getItem('engage.apiToken')).toBe(GOOD);
  });

  it('asks for a token instead of calling the API with an empty one', async () => {
    const { fn } = server();
    renderApp('/sign-in');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Enter your API token.');
    expect(fn).not.toHaveBeenCalled();
  });

  it('signs out: the token is removed and the sign-in page says so', async () => {
    setToken(GOOD);
    renderApp('/');
    expect(screen.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));

    expect(getToken()).toBeNull();
    expect(screen.getByRole('heading', { level: 1, name: 'Sign in to engage' })).toBeInTheDocument();
    expect(screen.getByText('You are signed out.')).toBeInTheDocument();
  });
});
