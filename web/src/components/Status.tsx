import type { ReactNode } from 'react';
import { describeError } from '../api/errors';
import styles from './Status.module.css';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p role="status" className={styles.loading}>
      {label}
    </p>
  );
}

export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div role="alert" className={styles.error}>
      <p>{describeError(error)}</p>
      {onRetry && (
        <button type="button" data-variant="secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className={styles.empty}>
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}

export function Notice({
  tone = 'info',
  children,
}: {
  tone?: 'info' | 'success' | 'warning';
  children: ReactNode;
}) {
  return (
    <div role="status" className={styles.notice} data-tone={tone}>
      {children}
    </div>
  );
}
