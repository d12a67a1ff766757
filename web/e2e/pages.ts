import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

/** Where the screenshots of each page are kept (a test artifact; README's comes from here). */
export const ARTIFACTS = 'e2e-artifacts';

/**
 * Checks the page as it is now: a screenshot kept as an artifact, and an accessibility
 * scan (axe, WCAG 2.1 A and AA) that must find nothing serious or critical.
 */
export async function checkPage(page: Page, name: string) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
  // An email's HTML is shown in a frame sandboxed without scripts, where axe cannot
  // run (it would wait for the frame forever); the email is the sender's content, not
  // the console's. The frame element itself (its title) is still checked.
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .exclude('iframe[sandbox]')
    .analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, `accessibility violations on ${name}`).toEqual([]);
}

export async function signIn(page: Page, token: string) {
  await page.goto('/sign-in');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * A time zone where it is now about midday, so a new client's welcome email is sent at
 * once, whatever the hour the suite runs at: in a fixed zone (Europe/London, say) it
 * falls inside the default quiet hours (21:00–08:00 local) for half of every day, and
 * is then rightly scheduled for the morning instead. `Etc/GMT-N` is UTC+N (POSIX's
 * sign), from Etc/GMT+12 to Etc/GMT-14; local noon is at least eight hours from either
 * edge of the quiet hours, far longer than the suite runs.
 */
export function middayTimeZone(now: Date = new Date()): string {
  // The offset from UTC, -11..12, that makes the local hour 12.
  const offset = ((12 - now.getUTCHours() + 35) % 24) - 11;
  if (offset === 0) return 'Etc/UTC';
  return offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}
