import { parseMetrics, sumOf } from './metrics';

const TEXT = `# HELP engage_emails_by_status emails by status
# TYPE engage_emails_by_status gauge
engage_emails_by_status{status="sent"} 35
engage_emails_by_status{status="failed"} 2
engage_change_stream_lag 4
engage_queue_messages{queue="email-dlq",state="visible"} 3
engage_queue_messages{queue="email",state="visible"} 7
weird{note="a \\"quoted\\" value"} 1
`;

describe('parseMetrics', () => {
  it('reads names, labels and values and skips comments', () => {
    const samples = parseMetrics(TEXT);
    expect(samples).toHaveLength(6);
    expect(samples[0]).toEqual({ name: 'engage_emails_by_status', labels: { status: 'sent' }, value: 35 });
    expect(samples[2]).toEqual({ name: 'engage_change_stream_lag', labels: {}, value: 4 });
    expect(samples[5]?.labels.note).toBe('a "quoted" value');
  });

  it('sums the samples whose labels match, and says when a metric is absent', () => {
    const samples = parseMetrics(TEXT);
    expect(sumOf(samples, 'engage_emails_by_status')).toBe(37);
    expect(sumOf(samples, 'engage_queue_messages', { queue: 'email-dlq' })).toBe(3);
    expect(sumOf(samples, 'engage_llm_cost_usd_total')).toBeNull();
  });
});
