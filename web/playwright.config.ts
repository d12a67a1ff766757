// End-to-end tests of the console in Debian's Chromium (no browser download), against
// a real `engage serve` on a fresh data directory, started here and stopped after.
//
//   E2E_ENGAGE_BIN=…/engage npx playwright test      (`make test` sets it)
//
// The server is the binary `make` built, with the console embedded; its data
// directory is a new temporary one each run.
import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const port = Number(process.env.E2E_PORT ?? 18640);
export const TOKEN = 'e2e-admin-token-0123456789abcdef';
const binary = process.env.E2E_ENGAGE_BIN ?? join(process.env.HOME ?? '', '.cache/engage/target/debug/engage');
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dataDir = mkdtempSync(join(tmpdir(), 'engage-e2e-'));

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'e2e-results',
  // One server, one story: the specs run in order.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromium,
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
    // `timeout` stops the server by itself even if this process is killed; `--foreground`
    // keeps it in the process group Playwright stops at the end.
    command: `timeout --foreground 900 ${binary} serve`,
    url: `http://127.0.0.1:${port}/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      ENGAGE_ADDR: `127.0.0.1:${port}`,
      ENGAGE_DATA_DIR: dataDir,
      ENGAGE_ADMIN_TOKEN: TOKEN,
      ENGAGE_DURABILITY: 'normal',
      RUST_LOG: 'warn',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
    },
  },
});
