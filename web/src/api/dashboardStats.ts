// Aggregates for the dashboard (`GET /api/v1/stats`). A backend that cannot compute them
// (AWS answers 501) gets `available: false`, and the dashboard shows "not available"
// instead of numbers. Nothing is estimated or made up.
import type { Schemas } from './client';
import { api } from './client';
import { unwrap } from './errors';


/** `GET /api/v1/stats`: counts by tier, the score histogram, emails per day, generators, LLM cost. */
export type DashboardStats = Schemas['Stats'];

export type StatsResult = { available: true; stats: DashboardStats } | { available: false };

export const STATS_DAYS = 14;

export async function fetchDashboardStats(signal?: AbortSignal): Promise<StatsResult> {
  const result = await api.GET('/api/v1/stats', { params: { query: { days: STATS_DAYS } }, signal });
  // 501: this backend cannot compute the aggregates; 404/405: an older server.
  if ([404, 405, 501].includes(result.response.status)) return { available: false };
  return { available: true, stats: unwrap(result) };
}
