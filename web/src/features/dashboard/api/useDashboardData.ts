import { useEffect, useRef, useState } from 'react';
import { fetchDashboardStats } from '../../../api/dashboardStats';
import { useResource } from '../../../lib/useResource';
import { fetchHealth } from './getHealth';
import { fetchMetrics, type MetricsSnapshot } from './getMetrics';
import { sendRatePerMinute } from './pipeline';

export const REFRESH_MS = 15_000;

/** Health and metrics, refreshed every 15 s; the send rate is measured between refreshes. */
export function useLiveHealth() {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const previous = useRef<MetricsSnapshot | null>(null);
  const health = useResource(`health:${tick}`, fetchHealth);
  const metrics = useResource(`metrics:${tick}`, async (signal) => {
    const snapshot = await fetchMetrics(signal);
    const sendRate = sendRatePerMinute(previous.current, snapshot);
    previous.current = snapshot;
    return { ...snapshot, sendRate };
  });
  return { health, metrics };
}

export function useDashboardStats() {
  return useResource('dashboard-stats', fetchDashboardStats);
}
