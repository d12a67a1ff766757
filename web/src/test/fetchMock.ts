import { vi } from 'vitest';

export type Handler = (request: Request, url: URL) => Response | Promise<Response>;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json' },
  });
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}): Response {
  return json({ type: `/problems/${status}`, title: 'Problem', status, detail, ...extra }, status);
}

/** Stubs `fetch` at the network boundary; every request is kept for assertions. */
export function mockFetch(handler: Handler) {
  const requests: Request[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(request);
    return handler(request, new URL(request.url));
  });
  vi.stubGlobal('fetch', fn);
  return { fn, requests };
}
