import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

/** The engine's configured campaigns (`GET /api/v1/campaigns`). */
export async function fetchCampaigns(signal?: AbortSignal) {
  return unwrap(await api.GET('/api/v1/campaigns', { signal })).items;
}

export function useCampaigns() {
  return useResource('campaigns', fetchCampaigns);
}
