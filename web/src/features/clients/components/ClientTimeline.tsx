import { Link } from 'react-router';
import { Badge } from '../../../components/Badge';
import { EmptyState } from '../../../components/Status';
import { formatDateTime } from '../../../lib/format';
import type { TimelineEntry, TimelineKind } from '../api/timeline';
import styles from './ClientTimeline.module.css';

const KIND_LABEL: Record<TimelineKind, string> = {
  change: 'Record',
  activity: 'Activity',
  decision: 'Decision',
  email: 'Email',
};

export function ClientTimeline({ entries }: { entries: TimelineEntry[] }) {
  if (entries.length === 0) {
    return <EmptyState title="Nothing has happened yet" />;
  }
  return (
    <ol className={styles.list} aria-label="Client timeline">
      {entries.map((e) => (
        <li key={e.id} className={styles.item} data-kind={e.kind}>
          <div className={styles.meta}>
            <time dateTime={e.at}>{formatDateTime(e.at)}</time>
            <span>{KIND_LABEL[e.kind]}</span>
          </div>
          <div className={styles.title}>
            {e.href ? <Link to={e.href}>{e.title}</Link> : <span>{e.title}</span>}
            {e.badge && <Badge tone={e.badge.tone}>{e.badge.label}</Badge>}
          </div>
          {e.detail && <p className={styles.detail}>{e.detail}</p>}
        </li>
      ))}
    </ol>
  );
}
