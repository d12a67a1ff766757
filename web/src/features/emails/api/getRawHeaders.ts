import { getRaw } from '../../../api/client';
import { ApiError } from '../../../api/errors';
import { useResource } from '../../../lib/useResource';

export interface Header {
  name: string;
  value: string;
}

/** The header section of an RFC 5322 message: folded lines joined, in order. */
export function parseHeaders(raw: string): Header[] {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const headers: Header[] = [];
  for (const line of head.split(/\r?\n/)) {
    const last = headers[headers.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) headers.push({ name: line.slice(0, colon), value: line.slice(colon + 1).trim() });
  }
  return headers;
}

/**
 * The headers of the message as it was sent (`GET /api/v1/emails/{id}/raw`); null when
 * no copy was kept (not sent yet, or sent through SMTP or SES).
 */
export async function fetchRawHeaders(id: string, signal?: AbortSignal): Promise<Header[] | null> {
  const response = await getRaw(`/api/v1/emails/${encodeURIComponent(id)}/raw`, signal);
  if (response.status === 404 || response.status === 501) return null;
  if (!response.ok) throw new ApiError(response.status, null);
  return parseHeaders(await response.text());
}

export function useRawHeaders(id: string, status: string | undefined) {
  return useResource(status === undefined ? null : `raw:${id}:${status}`, (signal) => fetchRawHeaders(id, signal));
}
