// The console's benchmark (`make bench-console`): the release `engage serve` on a data
// directory already holding the clients (BENCH_DATA_DIR), the pipeline stopped.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.E2E_PORT ?? 18641);
export const BENCH_TOKEN = 'bench-admin-token-0123456789abcdef';

export default defineConfig({
  testDir: 'bench',
  testMatch: '*.bench.ts',
  outputDir: 'e2e-results',
  workers: 1,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    command: `timeout --foreground 1800 ${process.env.E2E_ENGAGE_BIN ?? 'engage'} serve`,
    url: `http://127.0.0.1:${port}/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      ENGAGE_ADDR: `127.0.0.1:${port}`,
      ENGAGE_DATA_DIR: process.env.BENCH_DATA_DIR ?? '',
      ENGAGE_ADMIN_TOKEN: BENCH_TOKEN,
      ENGAGE_PIPELINE__AUTOSTART: 'false',
      RUST_LOG: 'warn',
    },
  },
});
