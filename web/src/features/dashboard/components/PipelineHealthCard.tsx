import { Badge, type Tone } from '../../../components/Badge';
import { Card } from '../../../components/Card';
import { ErrorMessage, Loading } from '../../../components/Status';
import { formatNumber, humanize } from '../../../lib/format';
import type { Resource } from '../../../lib/useResource';
import type { HealthReport } from '../api/getHealth';
import type { MetricsSnapshot } from '../api/getMetrics';
import { pipelineHealth } from '../api/pipeline';
import styles from './DashboardPage.module.css';

const STATUS_TONE: Record<string, Tone> = { up: 'success', degraded: 'warning', down: 'danger' };

function Stat({ label, value, alert = false }: { label: string; value: string; alert?: boolean }) {
  return (
    <div className={styles.stat} data-alert={alert}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

export function PipelineHealthCard({
  health,
  metrics,
}: {
  health: Resource<HealthReport>;
  metrics: Resource<MetricsSnapshot & { sendRate: number | null }>;
}) {
  const body = () => {
    if (health.status === 'error' && !health.data) return <ErrorMessage error={health.error} onRetry={health.reload} />;
    if (!health.data) return <Loading label="Checking the pipeline…" />;
    const p = pipelineHealth(health.data, metrics.data);
    const rate = metrics.data?.sendRate;
    return (
      <>
        <ul className={styles.checks} aria-label="Dependency checks">
          {p.checks.map((c) => (
            <li key={c.name}>
              <Badge tone={STATUS_TONE[c.status] ?? 'neutral'}>
                {humanize(c.name)}: {c.status}
              </Badge>
            </li>
          ))}
        </ul>
        <dl className={styles.stats}>
          <Stat label="Change stream lag (records)" value={formatNumber(p.streamLag)} alert={(p.streamLag ?? 0) > 100} />
          <Stat label="Email queue (visible)" value={formatNumber(p.queueVisible)} />
          <Stat label="In flight / delayed" value={`${formatNumber(p.queueInFlight)} / ${formatNumber(p.queueDelayed)}`} />
          <Stat label="Dead letters" value={formatNumber(p.deadLetters)} alert={(p.deadLetters ?? 0) > 0} />
          <Stat label="Failed emails" value={formatNumber(p.failedEmails)} alert={(p.failedEmails ?? 0) > 0} />
          <Stat
            label="Bounced / complained"
            value={`${formatNumber(p.bouncedEmails)} / ${formatNumber(p.complainedEmails)}`}
          />
          <Stat
            label="Send rate (per minute)"
            value={rate === null || rate === undefined ? 'Measuring…' : rate.toFixed(1)}
          />
          <Stat
            label="Mean change → decision"
            value={p.meanDecisionLagSeconds === null ? '—' : `${p.meanDecisionLagSeconds.toFixed(2)} s`}
          />
        </dl>
        <p className={styles.muted}>
          Generator: {p.generator ?? 'unknown'} · mail sender: {p.mailSender ?? 'unknown'} · sent since server start:{' '}
          {formatNumber(p.sentSinceStart)}
          {metrics.status === 'error' && ' · metrics could not be read'}
        </p>
      </>
    );
  };
  return (
    <Card
      title="Pipeline health"
      description="From /health and /metrics, refreshed every 15 seconds."
      actions={
        health.data && (
          <Badge tone={STATUS_TONE[health.data.status] ?? 'neutral'}>Overall: {health.data.status}</Badge>
        )
      }
    >
      {body()}
    </Card>
  );
}
