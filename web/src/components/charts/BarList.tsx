import { EmptyState } from '../Status';
import styles from './charts.module.css';

export interface BarItem {
  label: string;
  value: number;
  color?: string;
}

/** Labelled horizontal bars, for a few named counts (clients per tier, emails per generator). */
export function BarList({
  label,
  items,
  emptyTitle = 'No data yet',
  emptyText,
  format = (v: number) => String(v),
}: {
  label: string;
  items: BarItem[];
  emptyTitle?: string;
  emptyText?: string;
  format?: (value: number) => string;
}) {
  const max = Math.max(0, ...items.map((i) => i.value));
  if (items.length === 0 || max === 0) {
    return <EmptyState title={emptyTitle}>{emptyText}</EmptyState>;
  }
  return (
    <ul className={styles.barList} aria-label={label}>
      {items.map((item) => (
        <li key={item.label} className={styles.barRow}>
          <span>{item.label}</span>
          <span className={styles.barTrack} aria-hidden="true">
            <span
              className={styles.barFill}
              style={{
                display: 'block',
                width: `${(item.value / max) * 100}%`,
                background: item.color ?? 'var(--chart-1)',
              }}
            />
          </span>
          <span className={styles.barValue}>{format(item.value)}</span>
        </li>
      ))}
    </ul>
  );
}
