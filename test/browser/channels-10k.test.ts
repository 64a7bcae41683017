import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, type TestBrowser } from '../helpers/browser.js';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { insertManyChannels } from '../helpers/many-channels.js';

/** The channel page with 10,000 channels: the server pages and filters, the page stays usable. */
describe('web console: 10,000 channels (Chromium)', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let tb: TestBrowser;
  let page: Page;

  before(async () => {
    // No scheduled channel tests: these channels point at addresses that must never be called.
    gw = await startTestGateway({ env: { CHANNEL_TEST_EVERY: '0' } });
    // Straight into the table (as the API's own 10,000-channel test does).
    await insertManyChannels(gw, 10_000, { domain: 'invalid', groups: () => ['default'] });
    tb = await launchBrowser();
    page = await (await tb.context(gw.url)).newPage();
    await page.goto('/');
    await page.getByRole('tab', { name: 'Access token' }).click();
    await page.getByLabel(/^Admin access token/).fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Channels' }).click();
  });

  after(async () => {
    await tb?.close();
    await gw?.stop();
  });

  const rowCount = () => page.locator('tbody tr[data-testid^="channel-row-"]').count();

  it('shows one page of the 10,000, and pages through them on the server', async () => {
    await page.getByText('10,000 channels').waitFor();
    expect(await rowCount()).to.equal(20);
    await page.getByRole('button', { name: '500' }).waitFor();
    await page.getByRole('button', { name: '500' }).click();
    await page.getByText('ch-09999').waitFor();
    expect(await rowCount()).to.equal(20);
    await page.getByRole('combobox', { name: 'Rows per page' }).click();
    await page.getByRole('option', { name: '100' }).click();
    await page.getByRole('button', { name: '100', exact: true }).waitFor();
    // The pager changes with the picker; the 100-row page arrives from the server after it.
    await page.locator('tbody tr[data-testid^="channel-row-"]').nth(99).waitFor();
    expect(await rowCount()).to.equal(100);
    await screenshot(page, '30-channels-10k');
  });

  it('filters on the server: by name, type, status and model', async () => {
    await page.getByRole('textbox', { name: 'Search' }).fill('ch-04242');
    await page.getByText('1 channels').waitFor();
    expect(await rowCount()).to.equal(1);
    await page.getByRole('textbox', { name: 'Search' }).fill('');
    await page.getByRole('combobox', { name: 'Type' }).click();
    await page.getByRole('option', { name: 'Azure OpenAI' }).click();
    await page.getByText('1,000 channels').waitFor();
    await page.getByRole('combobox', { name: 'Status' }).click();
    await page.getByRole('option', { name: 'disabled', exact: true }).click();
    // Every 10th is Azure and every 4th disabled: every 20th is both.
    await page.getByText('500 channels').waitFor();
    await page.getByRole('textbox', { name: 'Model' }).fill('gpt-4o-mini');
    // …and every 3rd serves gpt-4o-mini: every 60th.
    await page.getByText('167 channels').waitFor();
    await screenshot(page, '31-channels-10k-filtered');
  });
});
