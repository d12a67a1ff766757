import styles from './Pager.module.css';

export function Pager({
  page,
  hasPrevious,
  nextCursor,
  onPrevious,
  onNext,
  label = 'Pagination',
}: {
  page: number;
  hasPrevious: boolean;
  nextCursor: string | null | undefined;
  onPrevious: () => void;
  onNext: (cursor: string) => void;
  label?: string;
}) {
  return (
    <nav aria-label={label} className={styles.pager}>
      <button type="button" data-variant="secondary" disabled={!hasPrevious} onClick={onPrevious}>
        Previous page
      </button>
      <span className={styles.page} aria-live="polite">
        Page {page}
      </span>
      <button
        type="button"
        data-variant="secondary"
        disabled={!nextCursor}
        onClick={() => nextCursor && onNext(nextCursor)}
      >
        Next page
      </button>
    </nav>
  );
}
