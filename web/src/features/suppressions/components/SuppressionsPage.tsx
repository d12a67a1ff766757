import { useId, useState, type FormEvent } from 'react';
import { Card } from '../../../components/Card';
import { Pager } from '../../../components/Pager';
import { EmptyState, ErrorMessage, Loading, Notice } from '../../../components/Status';
import { formatDateTime, humanize } from '../../../lib/format';
import { useCursorStack } from '../../../lib/useCursorStack';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import { addSuppression, removeSuppression, useSuppressions } from '../api/suppressions';
import styles from './SuppressionsPage.module.css';

type Feedback = { tone: 'success'; message: string } | { tone: 'error'; error: unknown } | null;

export default function SuppressionsPage() {
  useDocumentTitle('Suppressions');
  const pages = useCursorStack();
  const [generation, setGeneration] = useState(0);
  const list = useSuppressions(pages.cursor, generation);
  const [feedback, setFeedback] = useState<Feedback>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const refresh = () => setGeneration((g) => g + 1);

  const remove = async (email: string) => {
    setBusy(email);
    try {
      await removeSuppression(email);
      setFeedback({ tone: 'success', message: `${email} is no longer suppressed.` });
      refresh();
    } catch (error) {
      setFeedback({ tone: 'error', error });
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <h1>Suppressions</h1>
      <p>Addresses nothing is sent to: added by bounces, complaints, or by hand.</p>
      <Card title="Suppress an address">
        <AddForm
          onAdded={(email) => {
            setFeedback({ tone: 'success', message: `${email} is suppressed.` });
            pages.reset();
            refresh();
          }}
        />
      </Card>
      <div style={{ height: 'var(--space-4)' }} />
      <Card title="Suppressed addresses">
        {feedback?.tone === 'success' && <Notice tone="success">{feedback.message}</Notice>}
        {feedback?.tone === 'error' && <ErrorMessage error={feedback.error} />}
        {list.status === 'error' ? (
          <ErrorMessage error={list.error} onRetry={list.reload} />
        ) : !list.data ? (
          <Loading label="Loading suppressions…" />
        ) : list.data.items.length === 0 ? (
          <EmptyState title="No suppressed addresses">Every address may be emailed, as far as suppressions go.</EmptyState>
        ) : (
          <div className={styles.tableWrap}>
            <table>
              <caption className="visually-hidden">Suppressed addresses</caption>
              <thead>
                <tr>
                  <th scope="col">Address</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Since</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((s) => (
                  <tr key={s.email}>
                    <td className={styles.email}>{s.email}</td>
                    <td>{humanize(s.reason)}</td>
                    <td>{formatDateTime(s.created_at)}</td>
                    <td>
                      <button
                        type="button"
                        data-variant="secondary"
                        disabled={busy !== null}
                        onClick={() => remove(s.email)}
                        aria-label={`Remove ${s.email}`}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          label="Suppressions pages"
          page={pages.page}
          hasPrevious={pages.hasPrevious}
          nextCursor={list.status === 'success' ? list.data.next_cursor : null}
          onPrevious={pages.previous}
          onNext={pages.next}
        />
      </Card>
    </>
  );
}

function AddForm({ onAdded }: { onAdded: (email: string) => void }) {
  const [email, setEmail] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const added = await addSuppression(email.trim(), reason.trim());
      setEmail('');
      setReason('');
      onAdded(added.email);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className={styles.form} onSubmit={submit}>
      <div className={styles.field}>
        <label htmlFor={`${id}-email`}>Email address</label>
        <input
          id={`${id}-email`}
          type="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          autoComplete="off"
        />
      </div>
      <div className={styles.field}>
        <label htmlFor={`${id}-reason`}>Reason (optional)</label>
        <input id={`${id}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} placeholder="manual" />
      </div>
      <button type="submit" disabled={busy}>
        {busy ? 'Adding…' : 'Suppress'}
      </button>
      {error !== null && (
        <div style={{ flexBasis: '100%' }}>
          <ErrorMessage error={error} />
        </div>
      )}
    </form>
  );
}
