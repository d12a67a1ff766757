import { useId, useState, type FormEvent } from 'react';
import { ApiError } from '../../../api/errors';
import { ErrorMessage, Notice } from '../../../components/Status';
import { updateClient } from '../api/updateClient';
import type { ClientPatch, ClientView } from '../api/types';
import styles from './Form.module.css';

interface Values {
  first_name: string;
  last_name: string;
  email: string;
  time_zone: string;
  email_opt_in: boolean;
  top_size: string;
  bottom_size: string;
  shoe_size: string;
  budget: string;
  fit_notes: string;
  preferences: string;
}

function valuesOf(c: ClientView): Values {
  const p = c.profile;
  return {
    first_name: c.first_name,
    last_name: c.last_name ?? '',
    email: c.email,
    time_zone: c.time_zone,
    email_opt_in: c.consent.email_opt_in,
    top_size: p?.top_size ?? '',
    bottom_size: p?.bottom_size ?? '',
    shoe_size: p?.shoe_size ?? '',
    budget: p?.budget ?? '',
    fit_notes: p?.fit_notes ?? '',
    preferences: (p?.preferences ?? []).join(', '),
  };
}

const PROFILE_KEYS = ['top_size', 'bottom_size', 'shoe_size', 'budget', 'fit_notes', 'preferences'] as const;

/** Only what changed, so a concurrent edit of another field is not overwritten. */
export function patchFor(before: Values, after: Values): ClientPatch {
  const patch: ClientPatch = {};
  if (after.first_name !== before.first_name) patch.first_name = after.first_name.trim();
  if (after.last_name !== before.last_name) patch.last_name = after.last_name.trim() || null;
  if (after.email !== before.email) patch.email = after.email.trim();
  if (after.time_zone !== before.time_zone) patch.time_zone = after.time_zone.trim();
  if (after.email_opt_in !== before.email_opt_in) patch.email_opt_in = after.email_opt_in;
  if (PROFILE_KEYS.some((k) => after[k] !== before[k])) {
    const opt = (v: string) => v.trim() || null;
    patch.profile = {
      top_size: opt(after.top_size),
      bottom_size: opt(after.bottom_size),
      shoe_size: opt(after.shoe_size),
      budget: opt(after.budget),
      fit_notes: opt(after.fit_notes),
      preferences: after.preferences
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  }
  return patch;
}

type Outcome =
  | { kind: 'idle' }
  | { kind: 'unchanged' }
  | { kind: 'conflict'; currentVersion: number | null }
  | { kind: 'error'; error: unknown };

export function ProfileForm({
  client,
  onSaved,
  onReload,
}: {
  client: ClientView;
  onSaved: (client: ClientView) => void;
  onReload: () => void;
}) {
  const initial = valuesOf(client);
  const [values, setValues] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });
  const id = useId();

  const set = <K extends keyof Values>(key: K, value: Values[K]) => setValues((v) => ({ ...v, [key]: value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const patch = patchFor(initial, values);
    if (Object.keys(patch).length === 0) {
      setOutcome({ kind: 'unchanged' });
      return;
    }
    setBusy(true);
    try {
      const saved = await updateClient(client.id, { ...patch, version: client.version });
      onSaved(saved);
    } catch (e) {
      if (e instanceof ApiError && e.isConflict) {
        setOutcome({ kind: 'conflict', currentVersion: e.problem?.current_version ?? null });
      } else {
        setOutcome({ kind: 'error', error: e });
      }
    } finally {
      setBusy(false);
    }
  };

  const text = (key: Exclude<keyof Values, 'email_opt_in'>, label: string, props: { type?: string; hint?: string; autoComplete?: string } = {}) => (
    <div className={styles.field}>
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        type={props.type ?? 'text'}
        autoComplete={props.autoComplete ?? 'off'}
        value={values[key]}
        onChange={(e) => set(key, e.target.value)}
        aria-describedby={props.hint ? `${id}-${key}-hint` : undefined}
      />
      {props.hint && (
        <p id={`${id}-${key}-hint`} className={styles.hint}>
          {props.hint}
        </p>
      )}
    </div>
  );

  return (
    <form className={styles.form} onSubmit={submit} aria-label="Edit client">
      <div className={styles.grid}>
        {text('first_name', 'First name')}
        {text('last_name', 'Last name')}
        {text('email', 'Email address', { type: 'email' })}
        {text('time_zone', 'Time zone', { hint: 'An IANA name, e.g. Europe/Paris.' })}
      </div>
      <label className={styles.check}>
        <input type="checkbox" checked={values.email_opt_in} onChange={(e) => set('email_opt_in', e.target.checked)} />
        Opted in to engagement emails
      </label>
      <fieldset className={styles.fieldset}>
        <legend>Style profile</legend>
        <div className={styles.grid}>
          {text('top_size', 'Top size')}
          {text('bottom_size', 'Bottom size')}
          {text('shoe_size', 'Shoe size')}
          {text('budget', 'Budget')}
          {text('preferences', 'Style preferences', { hint: 'Separated by commas, e.g. minimal, workwear.' })}
          {text('fit_notes', 'Fit notes')}
        </div>
      </fieldset>
      {outcome.kind === 'conflict' && (
        <div role="alert" className={styles.conflict}>
          <p>
            <strong>Someone else changed this client</strong> while you were editing
            {outcome.currentVersion != null ? ` (it is now at version ${outcome.currentVersion}, you edited version ${client.version})` : ''}.
            Your changes were not saved.
          </p>
          <p>Reload to see the latest version, then make your changes again.</p>
          <div>
            <button type="button" onClick={onReload}>
              Reload latest version
            </button>
          </div>
        </div>
      )}
      {outcome.kind === 'error' && <ErrorMessage error={outcome.error} />}
      {outcome.kind === 'unchanged' && <Notice>Nothing to save: no field was changed.</Notice>}
      <div className={styles.actions}>
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
        <button type="button" data-variant="secondary" disabled={busy} onClick={() => setValues(initial)}>
          Discard changes
        </button>
      </div>
    </form>
  );
}
