import { EmptyState } from '../Status';
import styles from './charts.module.css';

export interface Bin {
  label: string;
  count: number;
}

const WIDTH = 600;
const HEIGHT = 200;
const PAD = { top: 16, right: 8, bottom: 24, left: 8 };

/** Vertical bars, one per bin, with the count above each; a table of the same data for screen readers. */
export function Histogram({
  title,
  bins,
  emptyTitle = 'No data yet',
  emptyText,
  color = 'var(--chart-1)',
}: {
  title: string;
  bins: Bin[];
  emptyTitle?: string;
  emptyText?: string;
  color?: string;
}) {
  const max = Math.max(0, ...bins.map((b) => b.count));
  if (bins.length === 0 || max === 0) {
    return <EmptyState title={emptyTitle}>{emptyText}</EmptyState>;
  }
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const slot = innerW / bins.length;
  const barW = Math.max(2, slot * 0.8);
  return (
    <figure className={styles.figure}>
      <svg className={styles.svg} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title}>
        <line
          className={styles.axis}
          x1={PAD.left}
          x2={WIDTH - PAD.right}
          y1={HEIGHT - PAD.bottom}
          y2={HEIGHT - PAD.bottom}
        />
        {bins.map((bin, i) => {
          const h = (bin.count / max) * innerH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          const y = HEIGHT - PAD.bottom - h;
          return (
            <g key={bin.label}>
              <rect x={x} y={y} width={barW} height={h} fill={color} rx={2} />
              {bin.count > 0 && (
                <text className={styles.value} x={x + barW / 2} y={y - 4} textAnchor="middle">
                  {bin.count}
                </text>
              )}
              <text className={styles.tick} x={x + barW / 2} y={HEIGHT - 8} textAnchor="middle">
                {bin.label}
              </text>
            </g>
          );
        })}
      </svg>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Range</th>
            <th scope="col">Count</th>
          </tr>
        </thead>
        <tbody>
          {bins.map((bin) => (
            <tr key={bin.label}>
              <th scope="row">{bin.label}</th>
              <td>{bin.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
