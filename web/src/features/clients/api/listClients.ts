import { api } from '../../../api/client';
import { unwrap } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';
import { TIERS, type Tier } from './types';

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

/** The query `GET /api/v1/users` takes: search, tier, status, consent, sort, cursor, page size. */
export function serverQuery(f: ClientFilters, cursor: string | undefined) {
  return {
    limit: PAGE_SIZE,
    ...(f.q.trim() ? { q: f.q.trim() } : {}),
    ...(f.tier ? { tier: f.tier } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(f.consent ? { email_opt_in: f.consent === 'opted_in' } : {}),
    ...(f.sort ? { sort: `${f.dir === 'desc' ? '-' : ''}${f.sort}` as const } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

export async function fetchClients(f: ClientFilters, cursor: string | undefined, signal?: AbortSignal) {
  return unwrap(await api.GET('/api/v1/users', { params: { query: serverQuery(f, cursor) }, signal }));
}

export function useClients(f: ClientFilters, cursor: string | undefined) {
  const key = JSON.stringify(serverQuery(f, cursor));
  return useResource(key, (signal) => fetchClients(f, cursor, signal));
}
