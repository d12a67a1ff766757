import { useState } from 'react';
import { ErrorMessage, Notice } from '../../../components/Status';
import { resubscribeClient, unsubscribeClient } from '../api/consent';
import { suppressAddress } from '../api/suppressAddress';
import type { ClientView } from '../api/types';
import styles from './Form.module.css';

type State = { kind: 'idle' } | { kind: 'busy' } | { kind: 'done'; message: string } | { kind: 'error'; error: unknown };

/** Unsubscribe / resubscribe the client, or suppress their address altogether. */
export function ClientActions({ client, onChanged }: { client: ClientView; onChanged: (c: ClientView) => void }) {
  const [state, setState] = useState<State>({ kind: 'idle' });
  const [confirmSuppress, setConfirmSuppress] = useState(false);
  const unsubscribed = client.consent.unsubscribed ?? false;
  const busy = state.kind === 'busy';

  const run = async (action: () => Promise<string>) => {
    setState({ kind: 'busy' });
    try {
      setState({ kind: 'done', message: await action() });
    } catch (error) {
      setState({ kind: 'error', error });
    }
  };

  const toggleSubscription = () =>
    run(async () => {
      if (unsubscribed) {
        onChanged(await resubscribeClient(client.id));
        return 'Resubscribed: engagement emails may be sent again.';
      }
      onChanged(await unsubscribeClient(client.id));
      return 'Unsubscribed: no more engagement emails will be sent.';
    });

  const suppress = () =>
    run(async () => {
      setConfirmSuppress(false);
      await suppressAddress(client.email);
      return `${client.email} is suppressed: nothing will be sent to it. Remove it on the Suppressions page.`;
    });

  return (
    <div className={styles.form}>
      <div className={styles.actions}>
        <button type="button" data-variant="secondary" disabled={busy} onClick={toggleSubscription}>
          {unsubscribed ? 'Resubscribe' : 'Unsubscribe'}
        </button>
        {confirmSuppress ? (
          <>
            <button type="button" data-variant="danger" disabled={busy} onClick={suppress}>
              Confirm: suppress {client.email}
            </button>
            <button type="button" data-variant="secondary" onClick={() => setConfirmSuppress(false)}>
              Cancel
            </button>
          </>
        ) : (
          <button type="button" data-variant="danger" disabled={busy} onClick={() => setConfirmSuppress(true)}>
            Suppress address…
          </button>
        )}
      </div>
      <p className={styles.hint}>
        Unsubscribing is what the link in an email does. Suppressing blocks the address itself, for every client who
        uses it (as a bounce or a complaint does).
      </p>
      {state.kind === 'done' && <Notice tone="success">{state.message}</Notice>}
      {state.kind === 'error' && <ErrorMessage error={state.error} />}
    </div>
  );
}
