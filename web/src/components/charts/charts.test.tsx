import { render, screen, within } from '@testing-library/react';
import { BarList } from './BarList';
import { Histogram } from './Histogram';
import { StackedBarChart } from './StackedBarChart';

const series = [
  { key: 'sent', label: 'Sent', color: 'green' },
  { key: 'failed', label: 'Failed', color: 'red' },
];

describe('Histogram', () => {
  it('shows its empty state when there are no bins or every bin is zero', () => {
    const { rerender } = render(<Histogram title="Scores" bins={[]} emptyTitle="No scored clients yet" />);
    expect(screen.getByText('No scored clients yet')).toBeInTheDocument();
    rerender(<Histogram title="Scores" bins={[{ label: '0–9', count: 0 }]} emptyTitle="No scored clients yet" />);
    expect(screen.getByText('No scored clients yet')).toBeInTheDocument();
    expect(screen.queryByRole('img')).not.toBeInTheDocument();
  });

  it('draws one bar per bin, scaled to the largest, with the data as a table', () => {
    const { container } = render(
      <Histogram
        title="Scores"
        bins={[
          { label: '0–49', count: 2 },
          { label: '50–100', count: 4 },
        ]}
      />,
    );
    expect(screen.getByRole('img', { name: 'Scores' })).toBeInTheDocument();
    const heights = [...container.querySelectorAll('rect')].map((r) => Number(r.getAttribute('height')));
    expect(heights).toHaveLength(2);
    expect(heights[1]).toBeCloseTo(2 * (heights[0] ?? 0));
    const table = screen.getByRole('table', { name: 'Scores' });
    expect(within(table).getByRole('row', { name: '50–100 4' })).toBeInTheDocument();
  });
});

describe('StackedBarChart', () => {
  it('shows its empty state when every column is empty', () => {
    render(
      <StackedBarChart
        title="Emails"
        series={series}
        columns={[{ label: 'Nov 1', values: {} }, { label: 'Nov 2', values: { sent: 0 } }]}
        emptyTitle="No emails in the last 14 days"
      />,
    );
    expect(screen.getByText('No emails in the last 14 days')).toBeInTheDocument();
  });

  it('stacks the series of a column and lists only the series present in the legend', () => {
    const { container } = render(
      <StackedBarChart
        title="Emails"
        series={[...series, { key: 'bounced', label: 'Bounced', color: 'orange' }]}
        columns={[
          { label: 'Nov 1', values: { sent: 3, failed: 1 } },
          { label: 'Nov 2', values: { sent: 2 } },
        ]}
      />,
    );
    expect(container.querySelectorAll('rect')).toHaveLength(3);
    const legend = screen.getByRole('list', { name: 'Legend' });
    expect(within(legend).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Sent', 'Failed']);
    expect(screen.getByRole('row', { name: 'Nov 1 3 1' })).toBeInTheDocument();
  });
});

describe('BarList', () => {
  it('shows its empty state when every value is zero', () => {
    render(<BarList label="Tiers" items={[{ label: 'Champion', value: 0 }]} emptyTitle="No clients yet" />);
    expect(screen.getByText('No clients yet')).toBeInTheDocument();
    expect(screen.queryByRole('list')).not.toBeInTheDocument();
  });

  it('lists each item with its formatted value', () => {
    render(<BarList label="Tiers" items={[{ label: 'Champion', value: 1200 }]} format={(v) => `${v} clients`} />);
    expect(within(screen.getByRole('list', { name: 'Tiers' })).getByText('1200 clients')).toBeInTheDocument();
  });
});
