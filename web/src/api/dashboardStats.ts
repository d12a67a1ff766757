// Aggregates for the dashboard. The server has no aggregate endpoint yet; this is the
// shape the console is built against and asks the server for (`GET /api/v1/stats`).
// Until the server answers it, `fetchDashboardStats` reports `available: false` and the
// dashboard shows "not available" instead of numbers. Nothing is estimated or made up.
import type { Schemas } from './client';
import { getRaw } from './client';
import { ApiError } from './errors';

export type Tier = Schemas['Tier'];
export type EmailStatus = Schemas['EmailStatus'];

export interface DashboardStats {
  /** When the aggregates were computed (RFC 3339). */
  generated_at: string;
  clients: {
    total: number;
    /** Clients per tier; `unscored` counts clients not scored yet. */
    by_tier: Partial<Record<Tier | 'unscored', number>>;
  };
  /** Scored clients by score: `counts[i]` covers `[i*bucket_width, (i+1)*bucket_width)`, the last bucket includes 100. */
  score_histogram: { bucket_width: number; counts: number[] };
  /** One entry per UTC day of the window, oldest first, including days with no emails. */
  emails_per_day: { date: string; by_status: Partial<Record<EmailStatus, number>> }[];
  /** Emails of the window by who wrote them. */
  generators: { llm: number; template: number };
  /** LLM spend of the window in US dollars; null when prices are unknown. */
  llm_cost_usd: number | null;
}

export type StatsResult = { available: true; stats: DashboardStats } | { available: false };

export const STATS_DAYS = 14;

export async function fetchDashboardStats(signal?: AbortSignal): Promise<StatsResult> {
  const response = await getRaw(`/api/v1/stats?days=${STATS_DAYS}`, signal);
  // 404 / 405: this server does not have the endpoint (yet).
  if (response.status === 404 || response.status === 405) return { available: false };
  if (!response.ok) throw new ApiError(response.status, null);
  return { available: true, stats: (await response.json()) as DashboardStats };
}
