import { Badge } from '../../../components/Badge';
import { formatDateTime, humanize } from '../../../lib/format';
import type { ScoreBreakdownData } from '../api/types';
import { ScoreGauge } from './ScoreGauge';
import styles from './ScoreBreakdown.module.css';

/** What each component measures, for people who don't read the scoring code. */
export const COMPONENT_INFO: Record<string, { label: string; plain: string }> = {
  recency: {
    label: 'Recency',
    plain: 'How recently the client did something (logged in, ordered, got a Fix, clicked an email), against their own rhythm between Fixes.',
  },
  frequency: {
    label: 'Frequency',
    plain: 'How often the client has been active lately.',
  },
  fix_outcomes: {
    label: 'Fix outcomes',
    plain: 'How their Fixes went: items kept, feedback given and ratings.',
  },
  email_engagement: {
    label: 'Email engagement',
    plain: 'How the client responds to our emails: opens, clicks and unsubscribes.',
  },
  profile: {
    label: 'Style profile',
    plain: 'How complete the style profile is; stylists pick better with more to go on.',
  },
};

function info(name: string) {
  return COMPONENT_INFO[name] ?? { label: humanize(name), plain: '' };
}

const pct = (v: number) => `${Math.round(v * 100)}%`;
const points = (v: number) => v.toFixed(1);

export function ScoreBreakdown({ breakdown }: { breakdown: ScoreBreakdownData }) {
  const { drivers } = breakdown;
  return (
    <div>
      <div className={styles.layout}>
        <ScoreGauge score={breakdown.score} tier={breakdown.tier} />
        <dl className={styles.drivers} aria-label="Score drivers">
          <div>
            <dt>Days since last activity</dt>
            <dd>{drivers.days_since_last_activity ?? 'No activity yet'}</dd>
          </div>
          <div>
            <dt>Days since last Fix</dt>
            <dd>{drivers.days_since_last_fix ?? 'No Fix yet'}</dd>
          </div>
          <div>
            <dt>Usual days between Fixes</dt>
            <dd>{Math.round(drivers.cadence_days)}</dd>
          </div>
          <div>
            <dt>Fixes delivered</dt>
            <dd>{drivers.fixes_delivered}</dd>
          </div>
          <div>
            <dt>Keep rate</dt>
            <dd>{drivers.keep_rate == null ? '—' : pct(drivers.keep_rate)}</dd>
          </div>
          <div>
            <dt>Average rating</dt>
            <dd>{drivers.average_rating == null ? '—' : `${drivers.average_rating.toFixed(1)} / 5`}</dd>
          </div>
          <div>
            <dt>Profile complete</dt>
            <dd>{drivers.profile_completeness}%</dd>
          </div>
          <div>
            <dt>A nudge would help most with</dt>
            <dd>{info(drivers.weakest).label}</dd>
          </div>
        </dl>
      </div>
      <div className={styles.tableWrap} role="region" aria-label="Score components" tabIndex={0}>
        <table>
          <caption className="visually-hidden">Score components</caption>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">How they do</th>
              <th scope="col" className={styles.number}>
                Weight
              </th>
              <th scope="col" className={styles.number}>
                Points
              </th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {breakdown.components.map((c) => {
              const { label, plain } = info(c.name);
              return (
                <tr key={c.name}>
                  <th scope="row" className={styles.name}>
                    {label} {drivers.weakest === c.name && <Badge tone="warning">Weakest</Badge>}
                    {plain && <span className={styles.plain}>{plain}</span>}
                  </th>
                  <td>
                    {pct(c.value)}
                    <span className={styles.meter} aria-hidden="true">
                      <span className={styles.meterFill} style={{ width: pct(Math.max(0, Math.min(1, c.value))) }} />
                    </span>
                  </td>
                  <td className={styles.number}>{pct(c.weight)}</td>
                  <td className={styles.number}>{points(c.contribution)}</td>
                  <td>{c.explanation}</td>
                </tr>
              );
            })}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={3}>
                Score (sum of points)
              </th>
              <td className={styles.number}>{breakdown.score}</td>
              <td>computed {formatDateTime(breakdown.computed_at)}</td>
            </tr>
          </tfoot>
        </table>
      </div>
    </div>
  );
}
