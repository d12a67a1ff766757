import { useCallback, useEffect, useRef, useState } from 'react';

export type Resource<T> =
  | { status: 'loading'; data: T | undefined; error: undefined; reload: () => void; replace: (data: T) => void }
  | { status: 'error'; data: T | undefined; error: unknown; reload: () => void; replace: (data: T) => void }
  | { status: 'success'; data: T; error: undefined; reload: () => void; replace: (data: T) => void };

interface Settled<T> {
  key: string;
  data?: T;
  error?: unknown;
  failed: boolean;
}

/**
 * Loads data for `key` (null: nothing to load) and reloads when the key changes.
 * While a new key loads, the previous data stays available so pages don't flash.
 */
export function useResource<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Resource<T> {
  const [settled, setSettled] = useState<Settled<T> | null>(null);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });

  const currentKey = key === null ? null : `${generation}:${key}`;

  useEffect(() => {
    if (currentKey === null) return;
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (data) => setSettled({ key: currentKey, data, failed: false }),
      (error: unknown) => {
        if (!controller.signal.aborted) setSettled({ key: currentKey, error, failed: true });
      },
    );
    return () => controller.abort();
  }, [currentKey]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const replace = useCallback(
    (data: T) => setSettled((s) => ({ key: s?.key ?? '', data, failed: false })),
    [],
  );

  const data = settled?.failed ? undefined : settled?.data;
  if (settled === null || settled.key !== currentKey) {
    return { status: 'loading', data, error: undefined, reload, replace };
  }
  if (settled.failed) {
    return { status: 'error', data: undefined, error: settled.error, reload, replace };
  }
  return { status: 'success', data: settled.data as T, error: undefined, reload, replace };
}
