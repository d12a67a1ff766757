import type { ReactNode } from 'react';
import { STATS_DAYS, type StatsResult } from '../../../api/dashboardStats';
import { Badge, type Tone } from '../../../components/Badge';
import { Card } from '../../../components/Card';
import { BarList } from '../../../components/charts/BarList';
import { Histogram } from '../../../components/charts/Histogram';
import { StackedBarChart } from '../../../components/charts/StackedBarChart';
import { EmptyState, ErrorMessage, Loading } from '../../../components/Status';
import { formatNumber, formatUsd, humanize } from '../../../lib/format';
import type { Resource } from '../../../lib/useResource';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import { EMAIL_SERIES, emailColumns, generatorItems, scoreBins, tierItems } from '../api/chartData';
import { emailsByStatus, llmSpend } from '../api/pipeline';
import { useDashboardStats, useLiveHealth } from '../api/useDashboardData';
import { PipelineHealthCard } from './PipelineHealthCard';
import styles from './DashboardPage.module.css';

const NOT_AVAILABLE = 'This server does not report aggregate statistics yet (GET /api/v1/stats).';

export default function DashboardPage() {
  useDocumentTitle('Dashboard');
  const stats = useDashboardStats();
  const { health, metrics } = useLiveHealth();
  return (
    <>
      <h1>Dashboard</h1>
      <div className={styles.grid}>
        <div className={styles.wide}>
          <PipelineHealthCard health={health} metrics={metrics} />
        </div>
        <Card title="Emails by status, now">
          {metrics.status === 'error' && !metrics.data ? (
            <ErrorMessage error={metrics.error} onRetry={metrics.reload} />
          ) : !metrics.data ? (
            <Loading />
          ) : (
            <BarList
              label="Emails by status"
              items={emailsByStatus(metrics.data).map((e) => ({
                label: humanize(e.status),
                value: e.count,
                color: EMAIL_SERIES.find((s) => s.key === e.status)?.color,
              }))}
              emptyTitle="No emails yet"
              format={formatNumber}
            />
          )}
        </Card>
        <Card title="LLM spend" description="As the running server counts it.">
          {metrics.status === 'error' && !metrics.data ? (
            <ErrorMessage error={metrics.error} onRetry={metrics.reload} />
          ) : !metrics.data ? (
            <Loading />
          ) : (
            <LlmSpend spend={llmSpend(metrics.data)} generator={generatorOf(health)} />
          )}
        </Card>
        <Card title="Clients by tier">
          <StatsBody stats={stats}>
            {(s) => (
              <>
                <p className={styles.muted}>{formatNumber(s.clients.total)} clients in all.</p>
                <BarList label="Clients by tier" items={tierItems(s)} emptyTitle="No clients yet" />
              </>
            )}
          </StatsBody>
        </Card>
        <Card title="Score distribution">
          <StatsBody stats={stats}>
            {(s) => (
              <Histogram
                title="Clients by engagement score"
                bins={scoreBins(s)}
                emptyTitle="No scored clients yet"
                emptyText="Clients are scored as soon as the pipeline processes them."
              />
            )}
          </StatsBody>
        </Card>
        <div className={styles.wide}>
          <Card title={`Emails per day, by status (last ${STATS_DAYS} days)`}>
            <StatsBody stats={stats}>
              {(s) => (
                <StackedBarChart
                  title={`Emails per day by status, last ${STATS_DAYS} days`}
                  columns={emailColumns(s)}
                  series={EMAIL_SERIES}
                  emptyTitle={`No emails in the last ${STATS_DAYS} days`}
                />
              )}
            </StatsBody>
          </Card>
        </div>
        <div className={styles.wide}>
          <Card title="Who wrote the emails">
            <StatsBody stats={stats}>
              {(s) => (
                <>
                  <BarList
                    label="Emails by generator"
                    items={generatorItems(s)}
                    emptyTitle={`No emails in the last ${STATS_DAYS} days`}
                  />
                  <p className={styles.muted}>
                    LLM cost over {STATS_DAYS} days: {s.llm_cost_usd === null ? 'unknown' : formatUsd(s.llm_cost_usd)}
                  </p>
                </>
              )}
            </StatsBody>
          </Card>
        </div>
      </div>
    </>
  );
}

function StatsBody({
  stats,
  children,
}: {
  stats: Resource<StatsResult>;
  children: (s: Extract<StatsResult, { available: true }>['stats']) => ReactNode;
}) {
  if (stats.status === 'error') return <ErrorMessage error={stats.error} onRetry={stats.reload} />;
  if (!stats.data) return <Loading />;
  if (!stats.data.available) return <EmptyState title="Not available">{NOT_AVAILABLE}</EmptyState>;
  return children(stats.data.stats);
}

function generatorOf(health: ReturnType<typeof useLiveHealth>['health']): string | null {
  const detail = health.data?.checks?.find((c) => c.name === 'generator')?.detail;
  const active = detail?.active;
  return typeof active === 'string' ? active : null;
}

function LlmSpend({ spend, generator }: { spend: ReturnType<typeof llmSpend>; generator: string | null }) {
  if (spend.sinceStartUsd === null && spend.todayUsd === null && spend.tokensIn === null) {
    return (
      <EmptyState title="No LLM spend recorded">
        {generator === 'template'
          ? 'No model is configured: emails are written from templates.'
          : 'No model answer has been accepted since the server started.'}
      </EmptyState>
    );
  }
  const tone: Tone = spend.fallbacks ? 'warning' : 'neutral';
  return (
    <dl className={styles.stats}>
      <div className={styles.stat}>
        <dt>Today (UTC)</dt>
        <dd>{formatUsd(spend.todayUsd)}</dd>
      </div>
      <div className={styles.stat}>
        <dt>Since server start</dt>
        <dd>{formatUsd(spend.sinceStartUsd)}</dd>
      </div>
      <div className={styles.stat}>
        <dt>Tokens in / out</dt>
        <dd>
          {formatNumber(spend.tokensIn)} / {formatNumber(spend.tokensOut)}
        </dd>
      </div>
      <div className={styles.stat}>
        <dt>Template fallbacks</dt>
        <dd>
          <Badge tone={tone}>{formatNumber(spend.fallbacks ?? 0)}</Badge>
        </dd>
      </div>
    </dl>
  );
}
