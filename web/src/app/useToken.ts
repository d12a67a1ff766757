import { useSyncExternalStore } from 'react';
import { getToken, subscribeToken } from '../api/token';

/** The current API token, re-rendering when it is set or cleared (sign-in, sign-out, a 401). */
export function useToken(): string | null {
  return useSyncExternalStore(subscribeToken, getToken, () => null);
}
