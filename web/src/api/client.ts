// The typed API client. Types come from `schema.d.ts`, generated from the server's
// OpenAPI document by `npm run gen:api`; never edit them by hand.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { clearToken, getToken } from './token';

export type Schemas = components['schemas'];

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token && !request.headers.has('Authorization')) {
      request.headers.set('Authorization', `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ response }) {
    // A token that stops working (rotated, revoked) ends the session everywhere.
    if (response.status === 401 && getToken()) clearToken('rejected');
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  // Looked up at call time, so tests can stub `fetch` at the boundary.
  fetch: (request) => globalThis.fetch(request),
});
api.use(auth);

/** A plain GET for endpoints outside the OpenAPI document (`/metrics`) or not yet in it. */
export async function getRaw(path: string, signal?: AbortSignal): Promise<Response> {
  const token = getToken();
  const response = await globalThis.fetch(new Request(new URL(path, window.location.origin), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    signal,
  }));
  if (response.status === 401 && token) clearToken('rejected');
  return response;
}
