import type { ReactNode } from 'react';
import styles from './Badge.module.css';

export type Tone = 'neutral' | 'success' | 'warning' | 'danger' | 'info';

export function Badge({ tone = 'neutral', children }: { tone?: Tone; children: ReactNode }) {
  const toneClass = tone === 'neutral' ? '' : styles[tone];
  return <span className={`${styles.badge} ${toneClass ?? ''}`}>{children}</span>;
}

const EMAIL_STATUS_TONES: Record<string, Tone> = {
  sent: 'success',
  delivered: 'success',
  scheduled: 'info',
  pending: 'info',
  sending: 'info',
  composing: 'info',
  bounced: 'danger',
  complained: 'danger',
  failed: 'danger',
  cancelled: 'neutral',
};

export function emailStatusTone(status: string): Tone {
  return EMAIL_STATUS_TONES[status] ?? 'neutral';
}

const TIER_TONES: Record<string, Tone> = {
  champion: 'success',
  engaged: 'success',
  new: 'info',
  at_risk: 'warning',
  lapsing: 'warning',
  dormant: 'danger',
};

export function tierTone(tier: string | null | undefined): Tone {
  return (tier && TIER_TONES[tier]) || 'neutral';
}
