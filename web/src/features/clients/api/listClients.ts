import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';
import { lastActivityAt, TIERS, type ClientView, type Tier } from './types';

export const PAGE_SIZE = 25;

export type StatusFilter = '' | 'subscribed' | 'unsubscribed';
export type ConsentFilter = '' | 'opted_in' | 'not_opted_in';
export type SortKey = '' | 'score' | 'last_activity';
export type SortDir = 'asc' | 'desc';

export interface ClientFilters {
  q: string;
  tier: Tier | '';
  status: StatusFilter;
  consent: ConsentFilter;
  sort: SortKey;
  dir: SortDir;
}

/** Reads the filters from the page's URL, ignoring values that are not known. */
export function filtersFromParams(params: URLSearchParams): ClientFilters {
  const tier = params.get('tier') ?? '';
  const status = params.get('status') ?? '';
  const consent = params.get('consent') ?? '';
  const sort = params.get('sort') ?? '';
  return {
    q: params.get('q') ?? '',
    tier: (TIERS as string[]).includes(tier) ? (tier as Tier) : '',
    status: status === 'subscribed' || status === 'unsubscribed' ? status : '',
    consent: consent === 'opted_in' || consent === 'not_opted_in' ? consent : '',
    sort: sort === 'score' || sort === 'last_activity' ? sort : '',
    dir: params.get('dir') === 'asc' ? 'asc' : 'desc',
  };
}

export function filtersToParams(f: ClientFilters): URLSearchParams {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.tier) p.set('tier', f.tier);
  if (f.status) p.set('status', f.status);
  if (f.consent) p.set('consent', f.consent);
  if (f.sort) {
    p.set('sort', f.sort);
    p.set('dir', f.dir);
  }
  return p;
}

/** The query `GET /api/v1/users` understands: search, tier, cursor and page size. */
export function serverQuery(f: ClientFilters, cursor: string | undefined) {
  return {
    limit: PAGE_SIZE,
    ...(f.q.trim() ? { q: f.q.trim() } : {}),
    ...(f.tier ? { tier: f.tier } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** Whether some filter or the sort can only be applied to the page shown (the API lacks them). */
export function hasPageOnlyFilters(f: ClientFilters): boolean {
  return Boolean(f.status || f.consent || f.sort);
}

/** Status, consent and sort, applied to one page of clients. */
export function applyPageFilters(items: ClientView[], f: ClientFilters): ClientView[] {
  let rows = items.filter((c) => {
    const unsubscribed = c.consent.unsubscribed ?? false;
    if (f.status === 'subscribed' && unsubscribed) return false;
    if (f.status === 'unsubscribed' && !unsubscribed) return false;
    if (f.consent === 'opted_in' && !c.consent.email_opt_in) return false;
    if (f.consent === 'not_opted_in' && c.consent.email_opt_in) return false;
    return true;
  });
  if (f.sort) {
    const value = (c: ClientView): number | null => {
      if (f.sort === 'score') return c.score ?? null;
      const at = lastActivityAt(c);
      return at ? Date.parse(at) : null;
    };
    const sign = f.dir === 'asc' ? 1 : -1;
    rows = [...rows].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      // Clients without a value go last whichever the direction.
      if (va === null && vb === null) return 0;
      if (va === null) return 1;
      if (vb === null) return -1;
      return (va - vb) * sign;
    });
  }
  return rows;
}

export async function fetchClients(f: ClientFilters, cursor: string | undefined, signal?: AbortSignal) {
  return unwrap(await api.GET('/api/v1/users', { params: { query: serverQuery(f, cursor) }, signal }));
}

export function useClients(f: ClientFilters, cursor: string | undefined) {
  const key = JSON.stringify(serverQuery(f, cursor));
  return useResource(key, (signal) => fetchClients(f, cursor, signal));
}
