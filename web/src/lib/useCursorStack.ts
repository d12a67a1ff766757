import { useState } from 'react';

/**
 * Cursor pagination over an API that only goes forward (`next_cursor`): the cursors of
 * the pages visited are kept, so "Previous" returns to the page before.
 */
export function useCursorStack() {
  const [stack, setStack] = useState<(string | undefined)[]>([undefined]);
  const cursor = stack[stack.length - 1];
  return {
    cursor,
    page: stack.length,
    hasPrevious: stack.length > 1,
    next: (nextCursor: string) => setStack((s) => [...s, nextCursor]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([undefined]),
  };
}
