import { useId, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { Pager } from '../../../components/Pager';
import { EmptyState, ErrorMessage, Loading } from '../../../components/Status';
import { humanize } from '../../../lib/format';
import { useCursorStack } from '../../../lib/useCursorStack';
import { useDocumentTitle } from '../../../lib/useDocumentTitle';
import {
  filtersFromParams,
  filtersToParams,
  serverQuery,
  useClients,
  type ClientFilters,
  type SortKey,
} from '../api/listClients';
import { TIERS } from '../api/types';
import { ClientsTable } from './ClientsTable';
import { NewClientForm } from './NewClientForm';
import styles from './ClientsPage.module.css';

export default function ClientsPage() {
  useDocumentTitle('Clients');
  const [params, setParams] = useSearchParams();
  const filters = filtersFromParams(params);
  const update = (change: Partial<ClientFilters>) => setParams(filtersToParams({ ...filters, ...change }));
  return (
    <>
      <h1>Clients</h1>
      <details className={styles.add}>
        <summary>Add a client</summary>
        <NewClientForm />
      </details>
      <FiltersForm key={filters.q} filters={filters} onChange={update} />
      {/* A new server query starts again at the first page. */}
      <Results key={JSON.stringify(serverQuery(filters, undefined))} filters={filters} onChange={update} />
    </>
  );
}

function FiltersForm({
  filters,
  onChange,
}: {
  filters: ClientFilters;
  onChange: (change: Partial<ClientFilters>) => void;
}) {
  const [q, setQ] = useState(filters.q);
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange({ q: q.trim() });
  };
  return (
    <div className={styles.filters}>
      <form role="search" className={styles.search} onSubmit={submit}>
        <div className={styles.field}>
          <label htmlFor={`${id}-q`}>Search by name or email</label>
          <input
            id={`${id}-q`}
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder="e.g. amara or amara@example.com"
          />
        </div>
        <button type="submit">Search</button>
      </form>
      <div className={styles.field}>
        <label htmlFor={`${id}-tier`}>Tier</label>
        <select
          id={`${id}-tier`}
          value={filters.tier}
          onChange={(e) => onChange({ tier: e.target.value as ClientFilters['tier'] })}
        >
          <option value="">All tiers</option>
          {TIERS.map((t) => (
            <option key={t} value={t}>
              {humanize(t)}
            </option>
          ))}
        </select>
      </div>
      <div className={styles.field}>
        <label htmlFor={`${id}-status`}>Status</label>
        <select
          id={`${id}-status`}
          value={filters.status}
          onChange={(e) => onChange({ status: e.target.value as ClientFilters['status'] })}
        >
          <option value="">Any status</option>
          <option value="subscribed">Subscribed</option>
          <option value="unsubscribed">Unsubscribed</option>
        </select>
      </div>
      <div className={styles.field}>
        <label htmlFor={`${id}-consent`}>Email consent</label>
        <select
          id={`${id}-consent`}
          value={filters.consent}
          onChange={(e) => onChange({ consent: e.target.value as ClientFilters['consent'] })}
        >
          <option value="">Any consent</option>
          <option value="opted_in">Opted in</option>
          <option value="not_opted_in">Not opted in</option>
        </select>
      </div>
    </div>
  );
}

function Results({
  filters,
  onChange,
}: {
  filters: ClientFilters;
  onChange: (change: Partial<ClientFilters>) => void;
}) {
  const pages = useCursorStack();
  const clients = useClients(filters, pages.cursor);
  const onSort = (key: Exclude<SortKey, ''>) =>
    onChange({ sort: key, dir: filters.sort === key && filters.dir === 'desc' ? 'asc' : 'desc' });

  if (clients.status === 'error') return <ErrorMessage error={clients.error} onRetry={clients.reload} />;
  if (!clients.data) return <Loading label="Loading clients…" />;

  const rows = clients.data.items;
  const filtered = filters.q || filters.tier || filters.status || filters.consent;
  return (
    <>
      {clients.status === 'loading' && <Loading label="Loading clients…" />}
      {rows.length === 0 ? (
        <EmptyState title={filtered ? 'No clients match these filters' : 'No clients yet'}>
          {filtered
            ? 'Try another search or fewer filters.'
            : 'Add one above, or create or import them through the API.'}
        </EmptyState>
      ) : (
        <ClientsTable clients={rows} sort={filters.sort} dir={filters.dir} onSort={onSort} />
      )}
      <Pager
        label="Clients pages"
        page={pages.page}
        hasPrevious={pages.hasPrevious}
        nextCursor={clients.status === 'success' ? clients.data.next_cursor : null}
        onPrevious={pages.previous}
        onNext={pages.next}
      />
    </>
  );
}
