import { EmptyState } from '../Status';
import styles from './charts.module.css';

export interface Series {
  key: string;
  label: string;
  color: string;
}

export interface StackedColumn {
  label: string;
  values: Partial<Record<string, number>>;
}

const WIDTH = 600;
const HEIGHT = 220;
const PAD = { top: 16, right: 8, bottom: 24, left: 8 };

/** One column per category, its series stacked bottom-up in `series` order, with a legend. */
export function StackedBarChart({
  title,
  columns,
  series,
  emptyTitle = 'No data yet',
  emptyText,
}: {
  title: string;
  columns: StackedColumn[];
  series: Series[];
  emptyTitle?: string;
  emptyText?: string;
}) {
  const totals = columns.map((c) => series.reduce((sum, s) => sum + (c.values[s.key] ?? 0), 0));
  const max = Math.max(0, ...totals);
  if (columns.length === 0 || max === 0) {
    return <EmptyState title={emptyTitle}>{emptyText}</EmptyState>;
  }
  const shown = series.filter((s) => columns.some((c) => (c.values[s.key] ?? 0) > 0));
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const slot = innerW / columns.length;
  const barW = Math.max(2, slot * 0.7);
  // Label every column when there is room, else every few.
  const labelEvery = Math.ceil(columns.length / 10);
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
        {columns.map((column, i) => {
          const x = PAD.left + i * slot + (slot - barW) / 2;
          let y = HEIGHT - PAD.bottom;
          return (
            <g key={column.label}>
              {shown.map((s) => {
                const v = column.values[s.key] ?? 0;
                if (v === 0) return null;
                const h = (v / max) * innerH;
                y -= h;
                return <rect key={s.key} x={x} y={y} width={barW} height={h} fill={s.color} />;
              })}
              {i % labelEvery === 0 && (
                <text className={styles.tick} x={x + barW / 2} y={HEIGHT - 8} textAnchor="middle">
                  {column.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul className={styles.legend} aria-label="Legend">
        {shown.map((s) => (
          <li key={s.key}>
            <span className={styles.swatch} style={{ background: s.color }} aria-hidden="true" />
            {s.label}
          </li>
        ))}
      </ul>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Category</th>
            {shown.map((s) => (
              <th scope="col" key={s.key}>
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {columns.map((c) => (
            <tr key={c.label}>
              <th scope="row">{c.label}</th>
              {shown.map((s) => (
                <td key={s.key}>{c.values[s.key] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
