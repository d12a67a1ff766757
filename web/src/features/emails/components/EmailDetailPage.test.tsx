import { render, screen, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { setToken } from '../../../api/token';
import { json, mockFetch, problem } from '../../../test/fetchMock';
import { email } from '../../../test/fixtures';
import EmailDetailPage from './EmailDetailPage';

function renderAt(id: string) {
  setToken('t');
  render(
    <MemoryRouter initialEntries={[`/emails/${id}`]}>
      <Routes>
        <Route path="/emails/:id" element={<EmailDetailPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('EmailDetailPage', () => {
  it('renders the HTML part in a fully sandboxed frame, never in the page', async () => {
    const html = '<p>Hi</p><script>parent.alert(1)</script>';
    mockFetch(() => json(email({ body_html: html })));
    renderAt('eml_1_welcome');
    const frame = await screen.findByTitle('HTML part of “Welcome, Amara”');
    expect(frame.tagName).toBe('IFRAME');
    expect(frame).toHaveAttribute('sandbox', '');
    expect(frame).toHaveAttribute('srcdoc', html);
    expect(document.querySelector('main script, body > div script')).toBeNull();
  });

  it('shows what a model did: model, prompt version, tokens, cost, latency', async () => {
    mockFetch(() =>
      json(
        email({
          generator: 'llm:gpt-test',
          generation: {
            model: 'gpt-test',
            prompt_version: 'v3',
            tokens_in: 1200,
            tokens_out: 300,
            cost_usd: 0.0021,
            latency_ms: 850,
            attempts: 2,
          },
        }),
      ),
    );
    renderAt('eml_1_welcome');
    const gen = await screen.findByRole('region', { name: 'Generation' });
    const value = (label: string) => within(gen).getByText(label).nextSibling;
    expect(value('Model')).toHaveTextContent('gpt-test');
    expect(value('Prompt version')).toHaveTextContent('v3');
    expect(value('Tokens')).toHaveTextContent(/1,?200 in · 300 out/);
    expect(value('Cost')).toHaveTextContent('$0.0021');
    expect(value('Latency')).toHaveTextContent('850 ms');
    expect(value('Attempts')).toHaveTextContent('2');
  });

  it('lists the status history in order with notes', async () => {
    mockFetch(() =>
      json(
        email({
          status_history: [
            { status: 'pending', at: '2026-02-01T12:00:00Z' },
            { status: 'sent', at: '2026-02-01T12:00:01Z', note: 'accepted by outbox' },
          ],
        }),
      ),
    );
    renderAt('eml_1_welcome');
    const history = await screen.findByRole('list', { name: 'Status history' });
    const items = within(history).getAllByRole('listitem');
    expect(items.map((i) => within(i).getAllByText(/Pending|Sent/)[0]?.textContent)).toEqual(['Pending', 'Sent']);
    expect(items[1]).toHaveTextContent('accepted by outbox');
  });

  it('says so when the email does not exist', async () => {
    mockFetch(() => problem(404, 'no email has this id'));
    renderAt('nope');
    expect(await screen.findByRole('alert')).toHaveTextContent('no email has this id');
    expect(screen.getByRole('heading', { level: 1, name: 'Email' })).toBeInTheDocument();
  });
});
