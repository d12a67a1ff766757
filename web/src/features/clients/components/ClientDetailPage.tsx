import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { Badge, tierTone } from '../../../components/Badge';
import { Card } from '../../../components/Card';
import { ErrorMessage, Loading, Notice } from '../../../components/Status';
import { formatDateTime, fullName, humanize } from '../../../lib/format';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import { useClient } from '../api/getClient';
import { useEngagement } from '../api/getEngagement';
import { HISTORY_LIMIT, useHistory } from '../api/listHistory';
import { buildTimeline } from '../api/timeline';
import type { ClientView } from '../api/types';
import { ActivityForm } from './ActivityForm';
import { ClientActions } from './ClientActions';
import { ClientTimeline } from './ClientTimeline';
import { EmailPreview } from './EmailPreview';
import { ProfileForm } from './ProfileForm';
import { ScoreBreakdown } from './ScoreBreakdown';
import styles from './ClientDetailPage.module.css';

/** How often the timeline looks for new decisions and emails. */
const REFRESH_MS = 3000;

export default function ClientDetailPage() {
  const { id = '' } = useParams();
  const client = useClient(id);
  const name = client.data ? fullName(client.data) : 'Client';
  useDocumentTitle(name);

  if (client.status === 'error') {
    return (
      <>
        <Link className={styles.back} to="/clients">
          ← All clients
        </Link>
        <h1>Client</h1>
        <ErrorMessage error={client.error} onRetry={client.reload} />
      </>
    );
  }
  if (!client.data) {
    return (
      <>
        <h1>Client</h1>
        <Loading label="Loading client…" />
      </>
    );
  }
  return <ClientDetail client={client.data} onChange={client.replace} onReload={client.reload} />;
}

function ClientDetail({
  client,
  onChange,
  onReload,
}: {
  client: ClientView;
  onChange: (c: ClientView) => void;
  onReload: () => void;
}) {
  const [saved, setSaved] = useState<number | null>(null);
  const engagement = useEngagement(client.id, client.version);
  const history = useHistory(client.id, client.version);
  // The processor decides after a change is stored: look again every few seconds.
  const reloadHistory = history.reload;
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') reloadHistory();
    }, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reloadHistory]);
  const status = client.consent.unsubscribed
    ? { label: 'Unsubscribed', tone: 'danger' as const }
    : client.consent.email_opt_in
      ? { label: 'Opted in', tone: 'success' as const }
      : { label: 'Not opted in', tone: 'neutral' as const };

  return (
    <>
      <Link className={styles.back} to="/clients">
        ← All clients
      </Link>
      <div className={styles.header}>
        <h1>{fullName(client)}</h1>
        <div className={styles.sub}>
          <span>{client.email}</span>
          {client.tier && <Badge tone={tierTone(client.tier)}>{humanize(client.tier)}</Badge>}
          <Badge tone={status.tone}>{status.label}</Badge>
          <span>
            Version {client.version} · updated {formatDateTime(client.updated_at)}
          </span>
        </div>
      </div>
      <div className={styles.grid}>
        <div className={styles.column}>
          <Card title="Engagement score" description="Recomputed now from the client's record.">
            {engagement.status === 'error' ? (
              <ErrorMessage error={engagement.error} onRetry={engagement.reload} />
            ) : engagement.data ? (
              <ScoreBreakdown breakdown={engagement.data} />
            ) : (
              <Loading label="Loading score…" />
            )}
          </Card>
          <Card title="Profile">
            {saved === client.version && <Notice tone="success">Saved (version {client.version}).</Notice>}
            <ProfileForm
              key={client.version}
              client={client}
              onSaved={(c) => {
                setSaved(c.version);
                onChange(c);
              }}
              onReload={onReload}
            />
          </Card>
        </div>
        <div className={styles.column}>
          <Card title="Email consent">
            <ClientActions client={client} onChanged={onChange} />
          </Card>
          <Card title="Record activity" description="Something the client did, as the shop would report it.">
            <ActivityForm client={client} onRecorded={onChange} />
          </Card>
          <Card title="Preview next email">
            <EmailPreview clientId={client.id} />
          </Card>
          <Card
            title="Timeline"
            description="Changes and activity on the record, the processor's decisions and the emails, newest first."
          >
            {history.status === 'error' ? (
              <ErrorMessage error={history.error} onRetry={history.reload} />
            ) : history.data ? (
              <>
                {history.data.truncated && (
                  <Notice>Showing the latest {HISTORY_LIMIT} changes, decisions and emails.</Notice>
                )}
                <ClientTimeline entries={buildTimeline(client, history.data.decisions, history.data.emails, history.data.changes)} />
              </>
            ) : (
              <Loading label="Loading timeline…" />
            )}
          </Card>
        </div>
      </div>
    </>
  );
}
