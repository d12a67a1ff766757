import { Link } from 'react-router';
import { Badge, tierTone } from '../../../components/Badge';
import { formatDateTime, fullName, humanize } from '../../../lib/format';
import type { SortDir, SortKey } from '../api/listClients';
import type { ClientView } from '../api/types';
import styles from './ClientsPage.module.css';

export function ClientsTable({
  clients,
  sort,
  dir,
  onSort,
}: {
  clients: ClientView[];
  sort: SortKey;
  dir: SortDir;
  onSort: (key: Exclude<SortKey, ''>) => void;
}) {
  const ariaSort = (key: SortKey) =>
    sort === key ? (dir === 'asc' ? 'ascending' : 'descending') : undefined;
  const sortLabel = (key: SortKey, label: string) =>
    sort === key ? `${label} (${dir === 'asc' ? 'ascending' : 'descending'})` : label;
  return (
    <div className={styles.tableWrap} role="region" aria-label="Clients" tabIndex={0}>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Tier</th>
            <th scope="col" aria-sort={ariaSort('score')} className={styles.number}>
              <button type="button" className={styles.sortButton} onClick={() => onSort('score')}>
                {sortLabel('score', 'Score')}
              </button>
            </th>
            <th scope="col" aria-sort={ariaSort('last_activity')}>
              <button type="button" className={styles.sortButton} onClick={() => onSort('last_activity')}>
                {sortLabel('last_activity', 'Last activity')}
              </button>
            </th>
            <th scope="col">Email consent</th>
          </tr>
        </thead>
        <tbody>
          {clients.map((c) => (
            <tr key={c.id}>
              <td>
                <Link to={`/clients/${encodeURIComponent(c.id)}`}>{fullName(c)}</Link>
              </td>
              <td>{c.email}</td>
              <td>{c.tier ? <Badge tone={tierTone(c.tier)}>{humanize(c.tier)}</Badge> : <span className={styles.muted}>Not scored</span>}</td>
              <td className={styles.number}>{c.score ?? '—'}</td>
              <td>{formatDateTime(c.last_activity_at)}</td>
              <td>{consentLabel(c)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function consentLabel(c: ClientView): string {
  if (c.consent.unsubscribed) return 'Unsubscribed';
  return c.consent.email_opt_in ? 'Opted in' : 'Not opted in';
}
