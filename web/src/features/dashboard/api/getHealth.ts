import { api, type Schemas } from '../../../api/client';
import { ApiError } from '../../../api/errors';

export type HealthReport = Schemas['HealthReport'];

/** `/health` answers 503 with the same report when something is down: that is still a report. */
export async function fetchHealth(signal?: AbortSignal): Promise<HealthReport> {
  const { data, error, response } = await api.GET('/health', { signal });
  if (data) return data;
  if (response.status === 503 && error && 'checks' in error) return error;
  throw new ApiError(response.status, null);
}
