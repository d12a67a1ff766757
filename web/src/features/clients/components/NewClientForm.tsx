import { useId, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { ErrorMessage } from '../../../components/Status';
import { createClient } from '../api/createClient';
import styles from './Form.module.css';

/** The browser's own time zone, the likeliest one for a client added by hand. */
function defaultTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Adds a client (POST /api/v1/users) and opens their page. */
export function NewClientForm() {
  const id = useId();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const text = (name: string) => {
      const v = form.get(name);
      return typeof v === 'string' ? v.trim() : '';
    };
    setBusy(true);
    setError(null);
    try {
      const created = await createClient({
        email: text('email'),
        first_name: text('first_name'),
        last_name: text('last_name') || null,
        time_zone: text('time_zone'),
        email_opt_in: form.get('email_opt_in') === 'on',
      });
      void navigate(`/clients/${created.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className={styles.form} onSubmit={submit} aria-label="New client">
      <div className={styles.grid}>
        <div className={styles.field}>
          <label htmlFor={`${id}-email`}>Email</label>
          <input id={`${id}-email`} name="email" type="email" required autoComplete="off" />
        </div>
        <div className={styles.field}>
          <label htmlFor={`${id}-first`}>First name</label>
          <input id={`${id}-first`} name="first_name" required autoComplete="off" />
        </div>
        <div className={styles.field}>
          <label htmlFor={`${id}-last`}>Last name (optional)</label>
          <input id={`${id}-last`} name="last_name" autoComplete="off" />
        </div>
        <div className={styles.field}>
          <label htmlFor={`${id}-tz`}>Time zone</label>
          <input id={`${id}-tz`} name="time_zone" required defaultValue={defaultTimeZone()} />
        </div>
      </div>
      <label className={styles.check}>
        <input type="checkbox" name="email_opt_in" defaultChecked /> Opted in to engagement emails
      </label>
      <div className={styles.actions}>
        <button type="submit" disabled={busy}>
          {busy ? 'Adding…' : 'Add client'}
        </button>
      </div>
      {error !== null && <ErrorMessage error={error} />}
    </form>
  );
}
