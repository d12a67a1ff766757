import { useId, useState, type FormEvent } from 'react';
import { ErrorMessage, Notice } from '../../../components/Status';
import { ACTIVITY_TYPES, recordActivity, type Activity, type ActivityType } from '../api/recordActivity';
import type { ClientView } from '../api/types';
import styles from './Form.module.css';

/** The activity's body from the form's fields. */
export function activityFrom(type: ActivityType, form: FormData): Activity {
  const text = (name: string) => {
    const v = form.get(name);
    return typeof v === 'string' ? v.trim() : '';
  };
  const count = (name: string) => Math.max(0, Number.parseInt(text(name) || '0', 10) || 0);
  switch (type) {
    case 'fix_delivered':
      return { type, fix_id: text('fix_id'), items_sent: count('items') };
    case 'fix_feedback': {
      const rating = text('rating');
      return { type, fix_id: text('fix_id'), items_kept: count('items'), rating: rating ? count('rating') : null };
    }
    default:
      return { type };
  }
}

/** Records something the client did (POST …/activity); the processor decides on it. */
export function ActivityForm({ client, onRecorded }: { client: ClientView; onRecorded: (c: ClientView) => void }) {
  const id = useId();
  const [type, setType] = useState<ActivityType>('login');
  const [state, setState] = useState<{ kind: 'idle' | 'busy' | 'done' } | { kind: 'error'; error: unknown }>({
    kind: 'idle',
  });
  const fix = type === 'fix_delivered' || type === 'fix_feedback';

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const body = activityFrom(type, new FormData(e.currentTarget));
    setState({ kind: 'busy' });
    try {
      onRecorded(await recordActivity(client.id, body));
      setState({ kind: 'done' });
    } catch (error) {
      setState({ kind: 'error', error });
    }
  };

  return (
    <form className={styles.form} onSubmit={submit} aria-label="Record activity">
      <div className={styles.grid}>
        <div className={styles.field}>
          <label htmlFor={`${id}-type`}>Activity</label>
          <select id={`${id}-type`} value={type} onChange={(e) => setType(e.target.value as ActivityType)}>
            {ACTIVITY_TYPES.map((a) => (
              <option key={a.type} value={a.type}>
                {a.label}
              </option>
            ))}
          </select>
        </div>
        {fix && (
          <>
            <div className={styles.field}>
              <label htmlFor={`${id}-fix`}>Fix id</label>
              <input id={`${id}-fix`} name="fix_id" required />
            </div>
            <div className={styles.field}>
              <label htmlFor={`${id}-items`}>{type === 'fix_delivered' ? 'Items sent' : 'Items kept'}</label>
              <input id={`${id}-items`} name="items" type="number" min={0} max={10} required defaultValue={5} />
            </div>
          </>
        )}
        {type === 'fix_feedback' && (
          <div className={styles.field}>
            <label htmlFor={`${id}-rating`}>Rating, 1–5 (optional)</label>
            <input id={`${id}-rating`} name="rating" type="number" min={1} max={5} />
          </div>
        )}
      </div>
      <div className={styles.actions}>
        <button type="submit" disabled={state.kind === 'busy'}>
          Record activity
        </button>
      </div>
      {state.kind === 'done' && (
        <Notice tone="success">Recorded. The processor decides on it in a moment; the timeline shows what it did.</Notice>
      )}
      {state.kind === 'error' && <ErrorMessage error={state.error} />}
    </form>
  );
}
