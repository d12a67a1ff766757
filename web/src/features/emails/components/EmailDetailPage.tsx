import { useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import type { Schemas } from '../../../api/client';
import { Badge, emailStatusTone } from '../../../components/Badge';
import { Card } from '../../../components/Card';
import { EmailFrame } from '../../../components/EmailFrame';
import { EmptyState, ErrorMessage, Loading, Notice } from '../../../components/Status';
import { formatDateTime, formatNumber, formatUsd, humanize } from '../../../lib/format';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import { useEmail } from '../api/getEmail';
import { useRawHeaders } from '../api/getRawHeaders';
import { resendEmail } from '../api/resendEmail';
import styles from './EmailDetailPage.module.css';

type Email = Schemas['Email'];

export default function EmailDetailPage() {
  const { id = '' } = useParams();
  const email = useEmail(id);
  useDocumentTitle(email.data ? `Email: ${email.data.subject}` : 'Email');

  if (email.status === 'error') {
    return (
      <>
        <h1>Email</h1>
        <ErrorMessage error={email.error} onRetry={email.reload} />
      </>
    );
  }
  if (!email.data) {
    return (
      <>
        <h1>Email</h1>
        <Loading label="Loading email…" />
      </>
    );
  }
  return <EmailDetail email={email.data} onChange={email.replace} />;
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function EmailDetail({ email, onChange }: { email: Email; onChange: (e: Email) => void }) {
  const g = email.generation;
  return (
    <>
      <Link className={styles.back} to={`/clients/${encodeURIComponent(email.user_id)}`}>
        ← Back to the client
      </Link>
      <h1>{email.subject}</h1>
      <div className={styles.header}>
        <Badge tone={emailStatusTone(email.status)}>{humanize(email.status)}</Badge>
        <span>{humanize(email.campaign)}</span>
        <span>created {formatDateTime(email.created_at)}</span>
      </div>
      <div className={styles.grid}>
        <div className={styles.column}>
          <Card title="HTML part" description="As engage renders it; the unsubscribe footer is added when it is sent.">
            <EmailFrame html={email.body_html} title={`HTML part of “${email.subject}”`} />
          </Card>
          <Card title="Text part">
            <pre>{email.body_text}</pre>
          </Card>
        </div>
        <div className={styles.column}>
          <Card title="Headers">
            <SentHeaders id={email.id} status={email.status} />
            <dl className={styles.facts}>
              <Fact label="Subject">{email.subject}</Fact>
              <Fact label="Preheader">{email.preheader || '—'}</Fact>
              <Fact label="Message-ID">
                <span className={styles.mono}>{email.message_id ?? 'Not sent yet'}</span>
              </Fact>
              <Fact label="To (client)">
                <Link to={`/clients/${encodeURIComponent(email.user_id)}`}>{email.user_id}</Link>
              </Fact>
            </dl>
          </Card>
          <Card title="Delivery">
            <dl className={styles.facts}>
              <Fact label="Status">{humanize(email.status)}</Fact>
              <Fact label="Scheduled for">{formatDateTime(email.scheduled_for)}</Fact>
              <Fact label="Sent">{formatDateTime(email.sent_at)}</Fact>
              <Fact label="Email id">
                <span className={styles.mono}>{email.id}</span>
              </Fact>
              <Fact label="Decision">
                <span className={styles.mono}>{email.decision_id}</span>
              </Fact>
              <Fact label="Trigger event">
                <span className={styles.mono}>{email.trigger_event_id}</span>
              </Fact>
            </dl>
            {email.status === 'failed' && <Resend id={email.id} onResent={onChange} />}
          </Card>
          <Card title="Status history">
            {email.status_history.length === 0 ? (
              <EmptyState title="No status changes recorded" />
            ) : (
              <ol aria-label="Status history" style={{ margin: 0, paddingLeft: '1.25rem' }}>
                {email.status_history.map((s, i) => (
                  <li key={`${s.status}-${s.at}-${i}`}>
                    <Badge tone={emailStatusTone(s.status)}>{humanize(s.status)}</Badge>{' '}
                    <time dateTime={s.at}>{formatDateTime(s.at)}</time>
                    {s.note && ` — ${s.note}`}
                  </li>
                ))}
              </ol>
            )}
          </Card>
          <Card title="Generation">
            <dl className={styles.facts}>
              <Fact label="Generator">{email.generator}</Fact>
              {email.fallback_reason && <Fact label="Template used because">{email.fallback_reason}</Fact>}
              {g ? (
                <>
                  <Fact label="Model">{g.model}</Fact>
                  <Fact label="Prompt version">{g.prompt_version}</Fact>
                  <Fact label="Tokens">
                    {formatNumber(g.tokens_in)} in · {formatNumber(g.tokens_out)} out
                  </Fact>
                  <Fact label="Cost">{g.cost_usd == null ? 'Unknown (no prices for this model)' : formatUsd(g.cost_usd)}</Fact>
                  <Fact label="Latency">{formatNumber(g.latency_ms)} ms</Fact>
                  <Fact label="Attempts">{g.attempts}</Fact>
                </>
              ) : (
                <Fact label="Model">None: written from the campaign's template</Fact>
              )}
            </dl>
            {g?.prompt && (
              <details>
                <summary>Prompt</summary>
                <pre className={styles.raw}>{g.prompt}</pre>
              </details>
            )}
            {g?.raw_output && (
              <details>
                <summary>Model's raw answer</summary>
                <pre className={styles.raw}>{g.raw_output}</pre>
              </details>
            )}
          </Card>
        </div>
      </div>
    </>
  );
}

function Resend({ id, onResent }: { id: string; onResent: (e: Email) => void }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown; done?: boolean }>({ busy: false });
  const resend = async () => {
    setState({ busy: true });
    try {
      onResent(await resendEmail(id));
      setState({ busy: false, done: true });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <div style={{ marginTop: 'var(--space-3)' }}>
      <button type="button" disabled={state.busy} onClick={resend}>
        Send again
      </button>
      {state.done && <Notice tone="success">Sent again: the status above shows how it went.</Notice>}
      {state.error !== undefined && <ErrorMessage error={state.error} />}
    </div>
  );
}

/** The headers of the message as sent, when a copy was kept. */
function SentHeaders({ id, status }: { id: string; status: string }) {
  const headers = useRawHeaders(id, status);
  if (headers.status === 'error') return <ErrorMessage error={headers.error} onRetry={headers.reload} />;
  if (headers.data === undefined) return <Loading label="Loading the headers…" />;
  if (headers.data === null) {
    return <p className={styles.note}>No copy of the message as sent is kept (not sent yet, or sent by SMTP or SES).</p>;
  }
  return (
    <dl className={styles.facts} aria-label="Headers as sent">
      {headers.data.map((h, i) => (
        <Fact key={`${h.name}-${i}`} label={h.name}>
          <span className={styles.mono}>{h.value}</span>
        </Fact>
      ))}
    </dl>
  );
}
