// The console end to end, as an operator uses it, against a real `engage serve` on a
// fresh data directory (playwright.config.ts): sign in, add a client, record activity,
// see the processor's decisions and emails appear, read an email, unsubscribe the
// client and see why nothing more is sent. Every page is screenshotted and scanned.
import { expect, test } from '@playwright/test';
import { TOKEN } from '../playwright.config';
import { checkPage, middayTimeZone, signIn } from './pages';

test.describe.configure({ mode: 'serial' });

test('a wrong token is refused', async ({ page }) => {
  await signIn(page, 'not-the-token-0123456789');
  await expect(page.getByText('That token was not accepted')).toBeVisible();
  await expect(page).toHaveURL(/\/sign-in/);
  await checkPage(page, 'sign-in');
  // The API itself refuses it too.
  const r = await page.request.get('/api/v1/users', { headers: { Authorization: 'Bearer wrong' } });
  expect(r.status()).toBe(401);
});

test('an operator follows a client from creation to unsubscribing', async ({ page }) => {
  await signIn(page, TOKEN);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await checkPage(page, 'dashboard');

  // Add a client.
  await page.getByRole('navigation').getByRole('link', { name: 'Clients' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Clients' })).toBeVisible();
  await page.getByText('Add a client').click();
  const form = page.getByRole('form', { name: 'New client' });
  await form.getByLabel('Email', { exact: true }).fill('ada.e2e@example.com');
  await form.getByLabel('First name').fill('Ada');
  await form.getByLabel('Last name (optional)').fill('Lovelace');
  // Midday where she lives, so the welcome email goes out now rather than after the
  // quiet hours (the test must not depend on the hour it runs at).
  await form.getByLabel('Time zone').fill(middayTimeZone());
  await checkPage(page, 'clients');
  await form.getByRole('button', { name: 'Add client' }).click();

  // Her page; the welcome decision and email appear in the timeline.
  await expect(page.getByRole('heading', { level: 1, name: 'Ada Lovelace' })).toBeVisible();
  const timeline = page.getByRole('list', { name: 'Client timeline' });
  const welcome = timeline.getByRole('link', { name: /^Email “Welcome, Ada/ });
  await expect(welcome).toBeVisible();

  // Record activity: a Fix delivered; the processor decides on it.
  const activity = page.getByRole('form', { name: 'Record activity' });
  await activity.getByLabel('Activity', { exact: true }).selectOption('fix_delivered');
  await activity.getByLabel('Fix id').fill('fix-1');
  await activity.getByRole('button', { name: 'Record activity' }).click();
  await expect(activity.getByText(/Recorded\./)).toBeVisible();
  await expect(timeline.getByText('Fix fix-1 delivered')).toBeVisible();
  await expect(timeline.getByText(/After fix delivered/)).toBeVisible();
  await checkPage(page, 'client');

  // The welcome email, rendered in its sandboxed frame.
  await welcome.click();
  await expect(page.getByRole('heading', { level: 1, name: /^Welcome, Ada/ })).toBeVisible();
  const frame = page.frameLocator('iframe[title^="HTML part"]');
  await expect(frame.getByText('Hi Ada,')).toBeVisible();
  await expect(page.locator('iframe[title^="HTML part"]')).toHaveAttribute('sandbox', '');
  // The headers of the message as it went out (the outbox keeps a copy).
  await expect(page.getByLabel('Headers as sent')).toContainText('List-Unsubscribe-Post');
  await checkPage(page, 'email');

  // Unsubscribe her; the next decision says why nothing was sent.
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Ada Lovelace' })).toBeVisible();
  await page.getByRole('button', { name: 'Unsubscribe' }).click();
  await expect(page.getByText(/Unsubscribed: no more engagement emails/)).toBeVisible();
  await activity.getByLabel('Activity', { exact: true }).selectOption('login');
  await activity.getByRole('button', { name: 'Record activity' }).click();
  await expect(timeline.getByText('Not sent, because the client unsubscribed').first()).toBeVisible();
});

test('the suppressions and dead letters pages', async ({ page }) => {
  await signIn(page, TOKEN);
  await page.getByRole('navigation').getByRole('link', { name: 'Suppressions' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Suppressions' })).toBeVisible();
  await checkPage(page, 'suppressions');
  await page.getByRole('navigation').getByRole('link', { name: 'Dead letters' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Dead letters' })).toBeVisible();
  await checkPage(page, 'dead-letters');
});

test('the pages work at phone width', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 812 });
  await signIn(page, TOKEN);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  for (const [path, heading, name] of [
    ['/', 'Dashboard', 'dashboard-phone'],
    ['/clients', 'Clients', 'clients-phone'],
  ] as const) {
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
    // Nothing wider than the screen: no sideways scrolling.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await checkPage(page, name);
  }
  await page.getByRole('link', { name: 'Ada Lovelace' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Ada Lovelace' })).toBeVisible();
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
  await checkPage(page, 'client-phone');
});

test('sign-out forgets the token', async ({ page }) => {
  await signIn(page, TOKEN);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await page.goto('/clients');
  await expect(page).toHaveURL(/\/sign-in/);
  expect(await page.evaluate('sessionStorage.length')).toBe(0);
});
