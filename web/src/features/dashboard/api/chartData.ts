// Turns dashboard aggregates into what the charts draw.
import type { Schemas } from '../../../api/client';
import type { DashboardStats } from '../../../api/dashboardStats';
import type { BarItem } from '../../../components/charts/BarList';
import type { Bin } from '../../../components/charts/Histogram';
import type { Series, StackedColumn } from '../../../components/charts/StackedBarChart';
import { humanize } from '../../../lib/format';

type EmailStatus = Schemas['EmailStatus'];

const TIER_ORDER = ['champion', 'engaged', 'new', 'at_risk', 'lapsing', 'dormant', 'unscored'] as const;
const TIER_COLORS: Record<string, string> = {
  champion: 'var(--chart-2)',
  engaged: 'var(--chart-6)',
  new: 'var(--chart-1)',
  at_risk: 'var(--chart-8)',
  lapsing: 'var(--chart-3)',
  dormant: 'var(--chart-5)',
  unscored: 'var(--chart-7)',
};

export function tierItems(stats: DashboardStats): BarItem[] {
  return TIER_ORDER.map((tier) => ({
    label: tier === 'unscored' ? 'Not scored yet' : humanize(tier),
    value: stats.clients.by_tier[tier] ?? 0,
    color: TIER_COLORS[tier],
  }));
}

export function scoreBins(stats: DashboardStats): Bin[] {
  const { bucket_width: width, counts } = stats.score_histogram;
  return counts.map((count, i) => {
    const from = i * width;
    const to = i === counts.length - 1 ? 100 : from + width - 1;
    return { label: `${from}–${to}`, count };
  });
}

export const EMAIL_SERIES: Series[] = (
  [
    ['delivered', 'var(--chart-2)'],
    ['sent', 'var(--chart-6)'],
    ['sending', 'var(--chart-1)'],
    ['pending', 'var(--chart-4)'],
    ['scheduled', 'var(--chart-8)'],
    ['composing', 'var(--chart-7)'],
    ['bounced', 'var(--chart-3)'],
    ['complained', 'var(--chart-5)'],
    ['failed', '#7a1010'],
    ['cancelled', '#3d4450'],
  ] as [EmailStatus, string][]
).map(([key, color]) => ({ key, label: humanize(key), color }));

const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

export function emailColumns(stats: DashboardStats): StackedColumn[] {
  return stats.emails_per_day.map((d) => ({
    label: dayLabel.format(new Date(`${d.date}T00:00:00Z`)),
    values: d.by_status,
  }));
}

export function generatorItems(stats: DashboardStats): BarItem[] {
  return [
    { label: 'LLM', value: stats.generators.llm, color: 'var(--chart-4)' },
    { label: 'Template', value: stats.generators.template, color: 'var(--chart-7)' },
  ];
}
