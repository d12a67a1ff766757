import { humanize } from '../../../lib/format';

const R = 80;
const CX = 100;
const CY = 100;

function point(fraction: number) {
  const angle = Math.PI * (1 - fraction);
  return { x: CX + R * Math.cos(angle), y: CY - R * Math.sin(angle) };
}

/** A half-circle gauge of a 0–100 score. */
export function ScoreGauge({ score, tier }: { score: number; tier: string }) {
  const clamped = Math.max(0, Math.min(100, score));
  const start = point(0);
  const end = point(clamped / 100);
  const full = point(1);
  return (
    <svg
      viewBox="0 0 200 120"
      role="img"
      aria-label={`Engagement score ${score} of 100, tier ${humanize(tier)}`}
      style={{ width: '100%', maxWidth: '14rem', display: 'block' }}
    >
      <path
        d={`M ${start.x} ${start.y} A ${R} ${R} 0 0 1 ${full.x} ${full.y}`}
        fill="none"
        stroke="var(--color-border)"
        strokeWidth="16"
        strokeLinecap="round"
      />
      {clamped > 0 && (
        <path
          d={`M ${start.x} ${start.y} A ${R} ${R} 0 0 1 ${end.x} ${end.y}`}
          fill="none"
          stroke="var(--chart-1)"
          strokeWidth="16"
          strokeLinecap="round"
        />
      )}
      <text x={CX} y={CY - 10} textAnchor="middle" fontSize="36" fontWeight="700" fill="var(--color-text)">
        {score}
      </text>
      <text x={CX} y={CY + 14} textAnchor="middle" fontSize="14" fill="var(--color-text-muted)">
        {humanize(tier)}
      </text>
    </svg>
  );
}
