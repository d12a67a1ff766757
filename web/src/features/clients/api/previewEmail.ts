import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';

/** Composes without recording or sending; with an LLM configured the model is asked (and billed). */
export async function previewEmail(id: string, campaign: string | null) {
  return unwrap(
    await api.POST('/api/v1/users/{id}/emails/preview', {
      params: { path: { id } },
      body: campaign ? { campaign } : {},
    }),
  );
}
