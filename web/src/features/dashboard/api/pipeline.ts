// Pipeline health, read from `/health` (dependency checks) and `/metrics` (counters).
import { sumOf } from '../../../api/metrics';
import type { HealthReport } from './getHealth';
import type { MetricsSnapshot } from './getMetrics';

export interface PipelineHealth {
  status: HealthReport['status'];
  checks: { name: string; status: HealthReport['status'] }[];
  /** Change records written but not yet processed. */
  streamLag: number | null;
  queueVisible: number | null;
  queueInFlight: number | null;
  queueDelayed: number | null;
  deadLetters: number | null;
  generator: string | null;
  mailSender: string | null;
  failedEmails: number | null;
  bouncedEmails: number | null;
  complainedEmails: number | null;
  llmErrors: number | null;
  /** Mean seconds from a change to its decision, since the server started. */
  meanDecisionLagSeconds: number | null;
  sentSinceStart: number | null;
}

function at(detail: unknown, ...path: string[]): unknown {
  let v: unknown = detail;
  for (const key of path) {
    if (!v || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function pipelineHealth(health: HealthReport, metrics: MetricsSnapshot | undefined): PipelineHealth {
  // The checks come only with a token (the console always sends one).
  const checks = health.checks ?? [];
  const detail = (name: string) => checks.find((c) => c.name === name)?.detail;
  const samples = metrics?.samples ?? [];
  const lagSum = sumOf(samples, 'engage_pipeline_lag_seconds_sum');
  const lagCount = sumOf(samples, 'engage_pipeline_lag_seconds_count');
  return {
    status: health.status,
    checks: checks.map((c) => ({ name: c.name, status: c.status })),
    streamLag: num(at(detail('change_stream'), 'lag')) ?? sumOf(samples, 'engage_change_stream_lag'),
    queueVisible: num(at(detail('email_queue'), 'queue', 'visible')),
    queueInFlight: num(at(detail('email_queue'), 'queue', 'in_flight')),
    queueDelayed: num(at(detail('email_queue'), 'queue', 'delayed')),
    deadLetters:
      num(at(detail('email_queue'), 'dead_letters')) ??
      sumOf(samples, 'engage_queue_messages', { queue: 'email-dlq', state: 'visible' }),
    generator: str(at(detail('generator'), 'active')),
    mailSender: str(at(detail('mail'), 'sender')),
    failedEmails: sumOf(samples, 'engage_emails_by_status', { status: 'failed' }),
    bouncedEmails: sumOf(samples, 'engage_emails_by_status', { status: 'bounced' }),
    complainedEmails: sumOf(samples, 'engage_emails_by_status', { status: 'complained' }),
    llmErrors: sumOf(samples, 'engage_llm_errors_total'),
    meanDecisionLagSeconds: lagSum !== null && lagCount ? lagSum / lagCount : null,
    sentSinceStart: sumOf(samples, 'engage_emails_total', { status: 'sent' }),
  };
}

/** Emails sent per minute between two snapshots; null until there are two, or after a restart. */
export function sendRatePerMinute(previous: MetricsSnapshot | null, current: MetricsSnapshot): number | null {
  if (!previous || current.at <= previous.at) return null;
  const before = sumOf(previous.samples, 'engage_emails_total', { status: 'sent' });
  const now = sumOf(current.samples, 'engage_emails_total', { status: 'sent' });
  if (before === null || now === null || now < before) return null;
  return ((now - before) / (current.at - previous.at)) * 60_000;
}

const LIFECYCLE = ['composing', 'scheduled', 'pending', 'sending', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'cancelled'];

/** Emails per status now (the `engage_emails_by_status` gauge), in lifecycle order, statuses with none left out. */
export function emailsByStatus(metrics: MetricsSnapshot): { status: string; count: number }[] {
  const rank = (status: string) => {
    const i = LIFECYCLE.indexOf(status);
    return i === -1 ? LIFECYCLE.length : i;
  };
  return metrics.samples
    .filter((s) => s.name === 'engage_emails_by_status' && s.labels.status && s.value > 0)
    .map((s) => ({ status: s.labels.status ?? '', count: s.value }))
    .sort((a, b) => rank(a.status) - rank(b.status));
}

/** LLM spend the server reports: since it started, and today (UTC). Null when no model is used. */
export function llmSpend(metrics: MetricsSnapshot) {
  return {
    sinceStartUsd: sumOf(metrics.samples, 'engage_llm_cost_usd_total'),
    todayUsd: sumOf(metrics.samples, 'engage_llm_spent_today', { unit: 'usd' }),
    tokensIn: sumOf(metrics.samples, 'engage_llm_tokens_total', { direction: 'in' }),
    tokensOut: sumOf(metrics.samples, 'engage_llm_tokens_total', { direction: 'out' }),
    fallbacks: sumOf(metrics.samples, 'engage_llm_fallbacks_total'),
  };
}
