// The console's benchmark (`make bench-console`): the clients page's first page with
// 1,000,000 clients stored, measured in Chromium against the release `engage serve`
// (playwright.bench.config.ts), and the initial JavaScript's gzipped size. Writes
// docs/benchmarks.console.md and puts it into docs/benchmarks.md between its markers.
import { expect, test } from '@playwright/test';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_TOKEN } from '../playwright.bench.config';

const RUNS = 7;
const FIRST_PAGE_TARGET_MS = 1000;
const INITIAL_JS_TARGET_KB = 250;
const HERE = dirname(fileURLToPath(import.meta.url));
const DOCS = join(HERE, '..', '..', 'docs');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** The scripts `index.html` loads before anything else: its entry and the modules it preloads. */
function initialJsGzipBytes(): { bytes: number; files: string[] } {
  const dist = join(HERE, '..', 'dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => String(m[1]));
  const bytes = files.reduce((n, f) => n + gzipSync(readFileSync(join(dist, f)), { level: 9 }).length, 0);
  return { bytes, files };
}

function splice(report: string, section: string): string {
  const begin = '<!-- bench-console:begin -->';
  const end = '<!-- bench-console:end -->';
  const block = `${begin}\n${section.endsWith('\n') ? section : `${section}\n`}${end}`;
  const b = report.indexOf(begin);
  const e = report.indexOf(end);
  if (b >= 0 && e > b) return report.slice(0, b) + block + report.slice(e + end.length);
  const i = report.indexOf('\n## Reading the figures');
  return i >= 0 ? `${report.slice(0, i + 1)}${block}\n\n${report.slice(i + 1)}` : `${report.trimEnd()}\n\n${block}\n`;
}

test('the clients page shows its first page of 1,000,000 clients', async ({ page }) => {
  const stored = Number(process.env.BENCH_CLIENTS ?? 0);
  await page.goto('/sign-in');
  await page.getByLabel('API token').fill(BENCH_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();

  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // A fresh load of the page each time: the app, then the first page of clients.
    await page.goto('about:blank');
    const started = Date.now();
    await page.goto('/clients');
    await expect(page.getByRole('table').getByRole('row').nth(1)).toBeVisible();
    times.push(Date.now() - started);
  }
  const rows = await page.getByRole('table').getByRole('row').count();
  const js = initialJsGzipBytes();
  const ms = median(times);
  const kb = js.bytes / 1024;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const machine = execSync("sh -c 'nproc; free -g | awk \"/Mem:/ {print \\$2}\"; uname -r'", { encoding: 'utf8' })
    .trim()
    .split('\n');
  const md = `## Console: the clients page and the initial JavaScript

Written by \`make bench-console\` (\`web/bench/clients.bench.ts\`); rerun it to refresh.

- date: ${new Date().toISOString().slice(0, 16)}Z
- machine: ${machine[0]} cores, ${machine[1]} GiB, Linux ${machine[2]}
- data: ${stored.toLocaleString('en')} clients loaded by \`engage demo --clients ${stored}\` into a fresh data directory; \`engage serve\` (release) with the pipeline stopped, so the page's queries are the only load
- browser: Debian's Chromium under Playwright, on the same machine

| measure | result | target | how |
|---|---|---|---|
| clients page, first page | ${ms} ms median (min ${Math.min(...times)}, max ${Math.max(...times)}) | < ${FIRST_PAGE_TARGET_MS} ms (${verdict(ms < FIRST_PAGE_TARGET_MS)}) | \`about:blank\` → \`/clients\` until the table's first row is visible: the app's files (cached after the first run, revalidated by ETag), \`GET /api/v1/users?limit=25\`, rendering; ${RUNS} runs, ${rows - 1} rows shown |
| initial JavaScript, gzipped | ${kb.toFixed(1)} KB | < ${INITIAL_JS_TARGET_KB} KB (${verdict(kb < INITIAL_JS_TARGET_KB)}) | the scripts \`index.html\` loads (${js.files.join(', ')}), gzip level 9; each page is a further lazy chunk |
`;
  writeFileSync(join(DOCS, 'benchmarks.console.md'), md);
  const report = join(DOCS, 'benchmarks.md');
  if (existsSync(report)) writeFileSync(report, splice(readFileSync(report, 'utf8'), md));
  console.log(md);
  expect(rows).toBeGreaterThan(1);
  expect(readdirSync(join(HERE, '..', 'dist', 'assets')).length).toBeGreaterThan(0);
});
