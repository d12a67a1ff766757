import { getRaw } from '../../../api/client';
import { ApiError } from '../../../api/errors';
import { parseMetrics, type Sample } from '../../../api/metrics';

export interface MetricsSnapshot {
  samples: Sample[];
  /** When the snapshot was read (ms since the epoch), for rates between two snapshots. */
  at: number;
}

export async function fetchMetrics(signal?: AbortSignal): Promise<MetricsSnapshot> {
  const response = await getRaw('/metrics', signal);
  if (!response.ok) throw new ApiError(response.status, null);
  return { samples: parseMetrics(await response.text()), at: Date.now() };
}
