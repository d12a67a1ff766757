import { useState } from 'react';
import { Card } from '../../../components/Card';
import { Pager } from '../../../components/Pager';
import { EmptyState, ErrorMessage, Loading, Notice } from '../../../components/Status';
import { formatDateTime } from '../../../lib/format';
import { useCursorStack } from '../../../lib/useCursorStack';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import { redriveAll, redriveDeadLetter, useDeadLetters } from '../api/deadLetters';
import styles from './DeadLettersPage.module.css';

type Feedback = { tone: 'success'; message: string } | { tone: 'error'; error: unknown } | null;

export default function DeadLettersPage() {
  useDocumentTitle('Dead letters');
  const pages = useCursorStack();
  const [generation, setGeneration] = useState(0);
  const list = useDeadLetters(pages.cursor, generation);
  const [feedback, setFeedback] = useState<Feedback>(null);
  const [busy, setBusy] = useState(false);

  const act = async (action: () => Promise<string>) => {
    setBusy(true);
    try {
      setFeedback({ tone: 'success', message: await action() });
      pages.reset();
      setGeneration((g) => g + 1);
    } catch (error) {
      setFeedback({ tone: 'error', error });
    } finally {
      setBusy(false);
    }
  };

  const items = list.data?.items ?? [];
  return (
    <>
      <h1>Dead letters</h1>
      <p>
        Messages that failed the maximum number of times. Redriving puts a message back on its queue; nothing is sent
        twice.
      </p>
      <Card
        title="Failed messages"
        actions={
          <button
            type="button"
            disabled={busy || items.length === 0}
            onClick={() =>
              act(async () => {
                const { redriven } = await redriveAll();
                return `${redriven} message${redriven === 1 ? '' : 's'} went back to the queue.`;
              })
            }
          >
            Redrive all
          </button>
        }
      >
        {feedback?.tone === 'success' && <Notice tone="success">{feedback.message}</Notice>}
        {feedback?.tone === 'error' && <ErrorMessage error={feedback.error} />}
        {list.status === 'error' ? (
          <ErrorMessage error={list.error} onRetry={list.reload} />
        ) : !list.data ? (
          <Loading label="Loading dead letters…" />
        ) : items.length === 0 ? (
          <EmptyState title="No dead letters">Every message was processed.</EmptyState>
        ) : (
          <ul className={styles.list} aria-label="Dead letters">
            {items.map((d) => (
              <li key={d.id} className={styles.item}>
                <div className={styles.row}>
                  <p className={styles.id}>{d.id}</p>
                  <button
                    type="button"
                    data-variant="secondary"
                    disabled={busy}
                    aria-label={`Redrive ${d.id}`}
                    onClick={() =>
                      act(async () => {
                        await redriveDeadLetter(d.id);
                        return `${d.id} went back to ${d.source_queue}.`;
                      })
                    }
                  >
                    Redrive
                  </button>
                </div>
                <p className={styles.meta}>
                  From {d.source_queue} · received {d.receive_count} times · first sent {formatDateTime(d.sent_at)}
                </p>
                {d.last_error && <p className={styles.error}>Last error: {d.last_error}</p>}
                <details>
                  <summary>Message body</summary>
                  <pre className={styles.body}>{JSON.stringify(d.body, null, 2)}</pre>
                </details>
              </li>
            ))}
          </ul>
        )}
        <Pager
          label="Dead letter pages"
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
