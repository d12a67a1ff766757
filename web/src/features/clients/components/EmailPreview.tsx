import { useId, useState, type FormEvent } from 'react';
import { Badge } from '../../../components/Badge';
import { EmailFrame } from '../../../components/EmailFrame';
import { ErrorMessage, Loading, Notice } from '../../../components/Status';
import { formatDateTime, formatUsd, humanize } from '../../../lib/format';
import { previewEmail } from '../api/previewEmail';
import { useCampaigns } from '../api/listCampaigns';
import type { Preview } from '../api/types';
import styles from './Form.module.css';

type State = { kind: 'idle' } | { kind: 'busy' } | { kind: 'done'; preview: Preview } | { kind: 'error'; error: unknown };

function decisionSentence(p: Preview): string {
  const d = p.decision;
  if (d.outcome === 'send') return `The processor would send ${humanize(d.campaign)} now.`;
  if (d.outcome === 'schedule') {
    return `The processor would schedule ${humanize(d.campaign)} for ${formatDateTime(d.scheduled_for)} (quiet hours).`;
  }
  return `The processor would not send anything now, because: ${humanize(d.reason).toLowerCase()}.`;
}

/** Composes the client's next email without recording or sending it. */
export function EmailPreview({ clientId }: { clientId: string }) {
  const [campaign, setCampaign] = useState('');
  const [state, setState] = useState<State>({ kind: 'idle' });
  const campaigns = useCampaigns();
  const id = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setState({ kind: 'busy' });
    try {
      setState({ kind: 'done', preview: await previewEmail(clientId, campaign || null) });
    } catch (error) {
      setState({ kind: 'error', error });
    }
  };

  return (
    <div className={styles.form}>
      <form className={styles.actions} onSubmit={submit}>
        <div className={styles.field}>
          <label htmlFor={`${id}-campaign`}>Campaign</label>
          <select id={`${id}-campaign`} value={campaign} onChange={(e) => setCampaign(e.target.value)}>
            <option value="">The one the processor would choose</option>
            {(campaigns.data ?? []).map((c) => (
              <option key={c.name} value={c.name} disabled={!c.enabled}>
                {humanize(c.name)}
                {c.enabled ? '' : ' (disabled)'}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={state.kind === 'busy'} style={{ alignSelf: 'end' }}>
          Preview next email
        </button>
      </form>
      <p className={styles.hint}>
        Nothing is recorded or sent. With a model configured, the preview asks it (and is billed like a real email).
      </p>
      {state.kind === 'busy' && <Loading label="Composing the preview…" />}
      {state.kind === 'error' && <ErrorMessage error={state.error} />}
      {state.kind === 'done' && <PreviewResult preview={state.preview} />}
    </div>
  );
}

function PreviewResult({ preview }: { preview: Preview }) {
  const email = preview.email;
  return (
    <div className={styles.form} aria-live="polite">
      <Notice>{decisionSentence(preview)}</Notice>
      {email ? (
        <>
          <dl className={styles.grid}>
            <div>
              <dt className={styles.hint}>Subject</dt>
              <dd style={{ margin: 0, fontWeight: 600 }}>{email.subject}</dd>
            </div>
            <div>
              <dt className={styles.hint}>Preheader</dt>
              <dd style={{ margin: 0 }}>{email.preheader}</dd>
            </div>
            <div>
              <dt className={styles.hint}>Written by</dt>
              <dd style={{ margin: 0 }}>
                <Badge tone={email.generator === 'template' ? 'neutral' : 'info'}>{email.generator}</Badge>
                {email.generation?.cost_usd != null && ` · ${formatUsd(email.generation.cost_usd)}`}
              </dd>
            </div>
          </dl>
          {email.fallback_reason && (
            <Notice tone="warning">The template stood in for the model: {email.fallback_reason}</Notice>
          )}
          <EmailFrame html={email.body_html} title={`Preview of “${email.subject}”`} />
          <details>
            <summary>Text part</summary>
            <pre>{email.body_text}</pre>
          </details>
        </>
      ) : (
        <p className={styles.hint}>No email: choose a campaign to see what it would write anyway.</p>
      )}
    </div>
  );
}
