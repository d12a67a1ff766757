import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router';
import { setToken } from '../../../api/token';
import { json, mockFetch } from '../../../test/fetchMock';
import { client } from '../../../test/fixtures';
import ClientsPage from './ClientsPage';

const amara = client({ id: 'usr_a', first_name: 'Amara', last_name: 'Wang', score: 64, activity: { last_login_at: '2026-11-01T00:00:00Z' } });
const bo = client({
  id: 'usr_b',
  first_name: 'Bo',
  last_name: 'Li',
  email: 'bo@example.com',
  score: 91,
  tier: 'champion',
  consent: { email_opt_in: false, unsubscribed: false },
  activity: { last_login_at: '2026-06-01T00:00:00Z' },
});
const cy = client({
  id: 'usr_c',
  first_name: 'Cy',
  last_name: null,
  email: 'cy@example.com',
  score: null,
  tier: null,
  consent: { email_opt_in: true, unsubscribed: true },
  activity: { last_login_at: '2026-11-20T00:00:00Z' },
});
const dee = client({ id: 'usr_d', first_name: 'Dee', last_name: null, email: 'dee@example.com', score: 12, tier: 'dormant' });

/** Two pages: the first ends with a cursor, the second does not. */
function server() {
  return mockFetch((_request, url) => {
    if (url.pathname !== '/api/v1/users') return json({}, 404);
    return url.searchParams.get('cursor') === 'page-2'
      ? json({ items: [dee], next_cursor: null })
      : json({ items: [amara, bo, cy], next_cursor: 'page-2' });
  });
}

function Where() {
  const location = useLocation();
  return <output aria-label="location">{location.search}</output>;
}

function renderPage(path = '/clients') {
  setToken('t');
  render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route
          path="/clients"
          element={
            <>
              <ClientsPage />
              <Where />
            </>
          }
        />
      </Routes>
    </MemoryRouter>,
  );
}

const names = () =>
  within(screen.getByRole('region', { name: 'Clients' }))
    .getAllByRole('row')
    .slice(1)
    .map((row) => within(row).getAllByRole('cell')[0]?.textContent);

const lastQuery = (requests: Request[]) => new URL(requests[requests.length - 1]?.url ?? '').searchParams;

describe('ClientsPage', () => {
  it('lists the first page with the API order and page size', async () => {
    const { requests } = server();
    renderPage();
    await screen.findByRole('link', { name: 'Amara Wang' });
    expect(names()).toEqual(['Amara Wang', 'Bo Li', 'Cy']);
    expect(Object.fromEntries(lastQuery(requests))).toEqual({ limit: '25' });
    expect(requests[0]?.headers.get('Authorization')).toBe('Bearer t');
  });

  it('sends the search and the tier to the API, and keeps them in the address', async () => {
    const { requests } = server();
    renderPage();
    await screen.findByRole('link', { name: 'Amara Wang' });

    await userEvent.type(screen.getByLabelText('Search by name or email'), 'amara');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(lastQuery(requests).get('q')).toBe('amara'));

    await userEvent.selectOptions(screen.getByLabelText('Tier'), 'At risk');
    await waitFor(() => expect(lastQuery(requests).get('tier')).toBe('at_risk'));
    expect(lastQuery(requests).get('q')).toBe('amara');
    expect(screen.getByLabelText('location')).toHaveTextContent('?q=amara&tier=at_risk');
  });

  it('pages forward with next_cursor and back to the first page', async () => {
    const { requests } = server();
    renderPage();
    await screen.findByRole('link', { name: 'Amara Wang' });
    expect(screen.getByRole('button', { name: 'Previous page' })).toBeDisabled();

    await userEvent.click(screen.getByRole('button', { name: 'Next page' }));
    await screen.findByRole('link', { name: 'Dee' });
    expect(lastQuery(requests).get('cursor')).toBe('page-2');
    expect(screen.getByText('Page 2')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Next page' })).toBeDisabled();

    await userEvent.click(screen.getByRole('button', { name: 'Previous page' }));
    await screen.findByRole('link', { name: 'Amara Wang' });
    expect(lastQuery(requests).has('cursor')).toBe(false);
    expect(screen.getByText('Page 1')).toBeInTheDocument();
  });

  it('starts again at the first page when a filter changes', async () => {
    const { requests } = server();
    renderPage();
    await screen.findByRole('link', { name: 'Amara Wang' });
    await userEvent.click(screen.getByRole('button', { name: 'Next page' }));
    await screen.findByRole('link', { name: 'Dee' });

    await userEvent.selectOptions(screen.getByLabelText('Tier'), 'Dormant');
    await waitFor(() => expect(lastQuery(requests).get('tier')).toBe('dormant'));
    expect(lastQuery(requests).has('cursor')).toBe(false);
    expect(await screen.findByText('Page 1')).toBeInTheDocument();
  });

  it('asks the API to sort by score, highest first, then lowest first', async () => {
    const { requests } = server();
    renderPage();
    await screen.findByRole('link', { name: 'Amara Wang' });

    await userEvent.click(screen.getByRole('button', { name: 'Score' }));
    await waitFor(() => expect(lastQuery(requests).get('sort')).toBe('-score'));
    expect(screen.getByRole('columnheader', { name: /Score/ })).toHaveAttribute('aria-sort', 'descending');

    await userEvent.click(screen.getByRole('button', { name: 'Score (descending)' }));
    await waitFor(() => expect(lastQuery(requests).get('sort')).toBe('score'));
    expect(screen.getByRole('columnheader', { name: /Score/ })).toHaveAttribute('aria-sort', 'ascending');
  });

  it('asks the API to sort by last activity, and shows the rows in its order', async () => {
    const { requests } = server();
    renderPage('/clients?sort=last_activity&dir=desc');
    await screen.findByRole('link', { name: 'Amara Wang' });
    expect(lastQuery(requests).get('sort')).toBe('-last_activity');
    // The API's order is kept as it is: no sorting of the page in the browser.
    expect(names()).toEqual(['Amara Wang', 'Bo Li', 'Cy']);
  });

  it('sends the status and consent filters to the API', async () => {
    const { requests } = server();
    renderPage();
    await screen.findByRole('link', { name: 'Amara Wang' });

    await userEvent.selectOptions(screen.getByLabelText('Status'), 'Unsubscribed');
    await waitFor(() => expect(lastQuery(requests).get('status')).toBe('unsubscribed'));

    await userEvent.selectOptions(screen.getByLabelText('Status'), 'Any status');
    await userEvent.selectOptions(screen.getByLabelText('Email consent'), 'Not opted in');
    await waitFor(() => expect(lastQuery(requests).get('email_opt_in')).toBe('false'));
    expect(lastQuery(requests).has('status')).toBe(false);
  });

  it('has an empty state for a search with no match', async () => {
    mockFetch(() => json({ items: [], next_cursor: null }));
    renderPage('/clients?q=zzz');
    expect(await screen.findByText('No clients match these filters')).toBeInTheDocument();
  });

  it('shows an error with a retry when the API fails', async () => {
    let fail = true;
    mockFetch(() => (fail ? json({ type: '/problems/internal', title: 'x', status: 500, detail: 'x' }, 500) : json({ items: [amara], next_cursor: null })));
    renderPage();
    expect(await screen.findByRole('alert')).toHaveTextContent('The server had a problem');
    fail = false;
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('link', { name: 'Amara Wang' })).toBeInTheDocument();
  });
});
