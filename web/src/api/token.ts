// The API token of this browser tab. Kept in sessionStorage so it ends with the tab
// and is never shared with other tabs; signing out removes it.

const KEY = 'engage.apiToken';

type Listener = () => void;
const listeners = new Set<Listener>();

export type ClearReason = 'signed-out' | 'rejected';
let lastReason: ClearReason | null = null;

export function getToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(token: string): void {
  lastReason = null;
  sessionStorage.setItem(KEY, token);
  listeners.forEach((l) => l());
}

/** Removes the token: `rejected` when the server stopped accepting it (a 401). */
export function clearToken(reason: ClearReason = 'signed-out'): void {
  lastReason = reason;
  sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

/** Why the last session of this tab ended, for the sign-in page to say so. */
export function lastClearReason(): ClearReason | null {
  return lastReason;
}

export function subscribeToken(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
