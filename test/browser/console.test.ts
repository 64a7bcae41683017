import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, signInWithPassword, type TestBrowser } from '../helpers/browser.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { callWithCookie } from '../helpers/console-session.js';

const ADMIN = { username: 'ops', password: 'ops-console-password-1' };
const ALICE = { username: 'alice', password: 'alice-console-password-1' };
const BOB = { username: 'bob', password: 'bob-console-password-1' };
const MODEL = 'fake-model';

/**
 * The console in Chromium against a real gateway (SQLite) and the fake upstream: what an operator
 * does on a first day, from sign-in to a charged chat, and what a user may not see.
 */
describe('web console (Chromium)', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let upstream: FakeUpstream;
  let tb: TestBrowser;
  let admin: BrowserContext;
  let page: Page;
  let tokenKey: string;
  let chargeText: string;

  before(async () => {
    upstream = await startFakeUpstream();
    // No scheduled channel tests: the Azure and Bedrock channels made here must never be called.
    gw = await startTestGateway({ env: { CHANNEL_TEST_EVERY: '0' } });
    // $2 in / $8 out per 1M: the fake's 10 + 5 tokens cost 10×2 + 5×8 = 60 µ$ = 30 quota units.
    expect((await gw.admin('PUT', `/api/prices/${MODEL}`, { input: 2, output: 8 })).status).to.equal(200);
    for (const u of [
      { ...ADMIN, role: 'admin' },
      { ...ALICE, role: 'user' },
      { ...BOB, role: 'user' },
    ]) {
      const r = await gw.admin('POST', '/api/users', u);
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
    }
    tb = await launchBrowser();
    admin = await tb.context(gw.url);
    page = await admin.newPage();
  });

  after(async () => {
    await tb?.close();
    await gw?.stop();
    await upstream?.close();
  });

  it('serves the console at / and signs in with a password', async () => {
    const res = await fetch(gw.url + '/');
    expect(res.status).to.equal(200);
    expect(await res.text()).to.contain('<div id="root">');
    await page.goto('/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await screenshot(page, '01-sign-in');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel(/^Password/).fill('wrong-password-123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await signInWithPassword(page, ADMIN.username, ADMIN.password);
    expect(await page.getByTestId('whoami').textContent()).to.contain('ops');
    const cookie = (await admin.cookies()).find((c) => c.name === 'sy_session');
    expect(cookie?.httpOnly).to.equal(true);
    expect(cookie?.sameSite).to.equal('Strict');
  });

  it('creates a channel per its type, tests it, fetches its upstream models', async () => {
    await page.getByRole('link', { name: 'Channels' }).click();
    await page.getByTestId('new-channel').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('fake-a');
    await dialog.getByLabel('Base URL').fill(upstream.baseUrl('a'));
    await dialog.getByLabel('API key').fill('sk-upstream-from-the-console');
    await dialog.getByLabel('Models').fill(MODEL);
    await dialog.getByLabel('Models').press('Enter');
    // An Azure channel asks for its API version; switching back to OpenAI drops it.
    await dialog.getByLabel('Type').click();
    await page.getByRole('option', { name: 'Azure OpenAI' }).click();
    await dialog.getByLabel('API version').waitFor();
    await screenshot(page, '02-channel-form-azure');
    await dialog.getByLabel('Type').click();
    await page.getByRole('option', { name: 'OpenAI-compatible' }).click();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tr', { hasText: 'fake-a' });
    await row.waitFor();
    expect(await row.textContent()).to.contain(MODEL);

    await row.getByRole('button', { name: 'Test' }).click();
    await row.getByTestId('last-test').getByText('test ok').waitFor();
    expect(await row.getByTestId('last-test').textContent()).to.match(/\d+ ms/);

    await row.getByRole('button', { name: 'Edit' }).click();
    await dialog.getByRole('button', { name: 'Fetch upstream models' }).click();
    await dialog.getByTestId('upstream-models').waitFor();
    expect(await dialog.getByTestId('upstream-models').textContent()).to.equal('a-model-a, a-model-b');
    await screenshot(page, '03-channel-edit');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await screenshot(page, '04-channels');

    // An Azure channel: its own settings form, sent as `settings`; then disabled with a bulk action.
    await page.getByTestId('new-channel').click();
    await dialog.getByLabel('Type').click();
    await page.getByRole('option', { name: 'Azure OpenAI' }).click();
    await dialog.getByLabel('Name').fill('azure-a');
    await dialog.getByLabel('Base URL').fill('https://azure-resource.invalid');
    await dialog.getByLabel('API key').fill('azure-key-from-the-console');
    await dialog.getByLabel('API version').fill('2024-10-21');
    await dialog.getByLabel('The upstream serves the Responses API').check();
    await dialog.getByLabel('Models').fill('gpt-azure-only');
    await dialog.getByLabel('Models').press('Enter');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const azure = (await gw.admin('GET', '/api/channels?q=azure-a')).body.data[0];
    expect(azure).to.deep.include({ type: 'azure', status: 'enabled' });
    expect(azure.settings).to.deep.equal({ api_version: '2024-10-21', responses_api: true });
    // A Bedrock channel: the region fills in the base URL; the access key id and secret make the key.
    await page.getByTestId('new-channel').click();
    await dialog.getByLabel('Type').click();
    await page.getByRole('option', { name: 'AWS Bedrock' }).click();
    await dialog.getByLabel('Name').fill('bedrock-a');
    await dialog.getByLabel('Region').fill('us-west-2');
    expect(await dialog.getByLabel('Base URL').inputValue()).to.equal(
      'https://bedrock-runtime.us-west-2.amazonaws.com',
    );
    await dialog.getByLabel('Access key ID').fill('AKIAIOSFODNN7EXAMPLE');
    await dialog.getByLabel('Secret access key').fill('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    await dialog.getByLabel('Models').fill('bedrock-only-model');
    await dialog.getByLabel('Models').press('Enter');
    await screenshot(page, '03-channel-form-bedrock');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const bedrock = (await gw.admin('GET', '/api/channels?q=bedrock-a')).body.data[0];
    expect(bedrock).to.deep.include({
      type: 'bedrock',
      base_url: 'https://bedrock-runtime.us-west-2.amazonaws.com',
      settings: { region: 'us-west-2' },
    });
    // The key is ID:SECRET: masked, it shows the id's start and the secret's end.
    expect(bedrock.key_masked).to.equal('AKI…EKEY');

    for (const id of [azure.id, bedrock.id])
      await page.getByTestId(`channel-row-${id}`).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Bulk action' }).click();
    await page.getByRole('menuitem', { name: 'disable' }).click();
    await page.getByTestId(`channel-row-${bedrock.id}`).getByText('disabled').waitFor();
    await page.getByTestId(`channel-row-${azure.id}`).getByText('disabled').waitFor();
    expect((await gw.admin('GET', `/api/channels/${bedrock.id}`)).body.data.status).to.equal('disabled');
    expect((await gw.admin('GET', `/api/channels/${azure.id}`)).body.data.status).to.equal('disabled');

    const stored = await gw.admin('GET', '/api/channels?q=fake-a');
    expect(stored.body.data[0]).to.deep.include({
      type: 'openai',
      base_url: upstream.baseUrl('a'),
      models: [MODEL],
    });
  });

  it('creates a token: the key is shown once, copied from the page with the copy button', async () => {
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('console-token');
    await dialog.getByLabel('Quota (US$)').fill('2');
    await dialog.getByText('= 1,000,000 quota units').waitFor();
    await dialog.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: 'Token created' });
    await shown.getByText('This is the only time the key is shown').waitFor();
    tokenKey = (await shown.getByTestId('new-token-key').textContent())!.trim();
    expect(tokenKey).to.match(/^sk-/);
    await shown.getByTestId('copy-key').click();
    await shown.getByRole('button', { name: 'Copied' }).waitFor();
    expect(
      await page.evaluate(() => (globalThis as any).navigator.clipboard.readText() as Promise<string>),
    ).to.equal(tokenKey);
    await screenshot(page, '05-token-created');
    await shown.getByRole('button', { name: 'Done' }).click();
    const row = page.locator('tr', { hasText: 'console-token' });
    await row.waitFor();
    expect(await row.textContent()).to.contain('$2');
    // A top-up in dollars adds whole quota units.
    await row.getByRole('button', { name: 'Top up' }).click();
    const topUp = page.getByRole('dialog');
    await topUp.getByLabel('Amount (US$)').fill('1');
    await topUp.getByText('= 500,000 quota units; negative to correct').waitFor();
    await topUp.getByRole('button', { name: 'Apply' }).click();
    await topUp.waitFor({ state: 'detached' });
    await row.getByText('$3').waitFor();
    const topped = (await gw.admin('GET', '/api/tokens?q=console-token')).body.data[0];
    expect(topped.quota).to.equal(1_500_000);
    // The list never shows the key again, only its prefix.
    expect(await page.locator('body').textContent()).not.to.contain(tokenKey);
    await screenshot(page, '06-tokens');
  });

  it('chats in the playground with the new key, streamed, and shows usage and charge', async () => {
    await page.getByRole('link', { name: 'Playground' }).click();
    const keyInput = page.getByLabel('Token key');
    expect(await keyInput.inputValue()).to.equal(tokenKey);
    await page.getByLabel('Model').fill(MODEL);
    await page.getByLabel('Message').fill('Hello from the console');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('usage').waitFor();
    expect(await page.getByTestId('usage').textContent()).to.contain('10 prompt + 5 completion = 15 tokens');
    const answer = await page.getByTestId('message-assistant').textContent();
    expect(answer).to.match(/Assistant.+/);
    await page.getByTestId('charge').waitFor();
    chargeText = (await page.getByTestId('charge').textContent())!;
    expect(chargeText).to.contain('$0.00006 (30 units)');
    await screenshot(page, '07-playground');
    const sent = upstream.requests.filter((r) => r.path === '/v1/chat/completions' && r.body.stream === true);
    expect(sent.at(-1)?.body.messages).to.deep.equal([{ role: 'user', content: 'Hello from the console' }]);
  });

  it('shows the chat in the usage log with its charge, and its details', async () => {
    await page.getByRole('link', { name: 'Usage log' }).click();
    const row = page.locator('tr', { hasText: MODEL }).first();
    await row.waitFor();
    expect(await row.getByTestId('log-charge').textContent()).to.equal('$0.00006');
    await row.getByRole('button', { name: 'Details' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByTestId('charge-formula').waitFor();
    expect(await dialog.getByTestId('charge-formula').textContent()).to.contain(
      'quota = ceil(((10 uncached prompt × $2 + 0 cached × $2 + 5 completion × $8) / 1M × 500000 quota per $ × ratio 1) = 30',
    );
    expect(await dialog.textContent()).to.contain('$0.00006 (30 units)');
    await screenshot(page, '08-usage-log-details');
    await page.keyboard.press('Escape');
    await screenshot(page, '09-usage-log');
  });

  it('shows the chat on the dashboard', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page
      .getByTestId('stat-requests')
      .filter({ hasText: /^[1-9]/ })
      .waitFor();
    expect(await page.getByTestId('stat-spend').textContent()).to.equal('$0.00006');
    await page.getByTestId('top-models').getByText(MODEL).waitFor();
    await page.getByTestId('top-channels').getByText('fake-a (#1)').waitFor();
    await page
      .getByTestId('top-tokens')
      .getByText(/^console-token \(#\d+\)$/)
      .waitFor();
    await page.locator('.recharts-surface').first().waitFor();
    await screenshot(page, '10-dashboard');
    // A custom range around now holds the request; one that ended an hour ago does not.
    const local = (ms: number) => {
      const d = new Date(ms);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    };
    await page.getByText('Custom').click();
    await page.getByLabel('From', { exact: true }).fill(local(Date.now() - 3 * 3600_000));
    await page.getByLabel('To', { exact: true }).fill(local(Date.now() - 3600_000));
    await page.getByTestId('stat-requests').filter({ hasText: /^0$/ }).waitFor();
    await page.getByLabel('To', { exact: true }).fill(local(Date.now() + 3600_000));
    await page.getByTestId('stat-requests').filter({ hasText: /^1$/ }).waitFor();
  });

  it('shows the other admin pages (users, prices & groups, cluster, account) and switches to Chinese', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('tr', { hasText: 'alice' }).waitFor();
    await screenshot(page, '11-users');
    await page.getByRole('link', { name: 'Prices & groups' }).click();
    await page.locator('tr', { hasText: MODEL }).waitFor();
    await screenshot(page, '12-prices');
    await page.getByRole('link', { name: 'Cluster' }).click();
    await page.getByTestId('cluster-node').first().waitFor();
    await screenshot(page, '13-cluster');
    // Contrast (WCAG AA, 4.5:1 for text): a link, the primary button, secondary text, on white.
    // (A string: the test runner's transpiler would add helpers the page does not have.)
    const ratios = (await page.evaluate(`(() => {
      const lum = (css) => {
        const [r, g, b] = css.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
          const c = v / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const ratio = (a, b) => {
        const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
      };
      const white = 'rgb(255, 255, 255)';
      const link = document.querySelector('main a[href="/admin/queues"]');
      const track = document.querySelector('main .mantine-Switch-track');
      const dimmed = document.querySelector('[data-testid="cluster-node"] .mantine-Text-root[data-size="xs"]');
      return {
        link: ratio(getComputedStyle(link).color, white),
        primary: ratio(getComputedStyle(track).backgroundColor, white),
        dimmed: ratio(getComputedStyle(dimmed).color, white),
      };
    })()`)) as Record<string, number>;
    for (const [what, r] of Object.entries(ratios)) expect(r, what).to.be.at.least(4.5);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByTestId('my-quota').waitFor();
    await screenshot(page, '14-account');
    await page.getByText('中文').click();
    await page.getByRole('link', { name: '渠道' }).waitFor();
    await screenshot(page, '15-account-zh');
    await page.getByText('English').click();
    await page.getByRole('link', { name: 'Channels' }).waitFor();
  });

  it('works from the keyboard: skip link, navigation, a dialog opened with Enter and closed with Escape', async () => {
    await page.goto('/');
    await page.getByTestId('whoami').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).to.equal('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).to.equal('main');
    // Tab through the header and the navigation to "Tokens", then open it with Enter.
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Shift+Tab');
      reached = (await page.evaluate('document.activeElement.textContent')) === 'Tokens';
    }
    expect(reached).to.equal(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Tokens', level: 2 }).waitFor();
    await page.getByRole('button', { name: 'New token' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    // Focus is in the dialog (trapped there), and Escape closes it.
    expect(await page.evaluate('!!document.activeElement.closest("[role=dialog]")')).to.equal(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('creates a user with a password on the Users page, who can then sign in', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Username').fill('carol');
    await dialog.getByLabel(/^Password/).fill('carol-console-password-1');
    await dialog.getByLabel('Quota (US$)').fill('1.5');
    await dialog.getByText('= 750,000 quota units').waitFor();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('tr', { hasText: 'carol' });
    await row.waitFor();
    expect(await row.textContent()).to.contain('$1.5');
    const ctx = await tb.context(gw.url);
    try {
      const p = await ctx.newPage();
      await signInWithPassword(p, 'carol', 'carol-console-password-1');
      expect(await p.getByTestId('whoami').textContent()).to.contain('carol');
    } finally {
      await ctx.close();
    }
  });

  it('a user sees only its own tokens, and no admin page', async () => {
    const a = await gw.admin('GET', '/api/users?q=alice');
    const b = await gw.admin('GET', '/api/users?q=bob');
    await gw.token({ name: 'alice-token', user_id: a.body.data[0].id });
    const bobToken = await gw.token({ name: 'bob-token', user_id: b.body.data[0].id });
    const ctx = await tb.context(gw.url);
    try {
      const p = await ctx.newPage();
      await signInWithPassword(p, ALICE.username, ALICE.password);
      await p.getByRole('link', { name: 'Tokens' }).click();
      await p.locator('tr', { hasText: 'alice-token' }).waitFor();
      const text = await p.locator('main').textContent();
      expect(text).not.to.contain('bob-token');
      expect(text).not.to.contain('console-token');
      const nav = await p.getByRole('navigation').textContent();
      for (const hidden of ['Channels', 'Users', 'Cluster']) expect(nav).not.to.contain(hidden);
      await screenshot(p, '16-user-tokens');
      // And the API refuses what the console hides.
      const answers = await p.evaluate(async (id) => {
        const channels = await fetch('/api/channels');
        const other = await fetch(`/api/tokens/${id}`);
        return [channels.status, other.status];
      }, bobToken.id);
      expect(answers[0]).to.equal(403);
      expect(answers[1]).to.equal(404);
    } finally {
      await ctx.close();
    }
  });

  it('refuses a cookie-authenticated write without the CSRF token (from the page)', async () => {
    const [without, withToken] = await page.evaluate(async () => {
      const me = (await (await fetch('/api/auth/me')).json()) as { csrf_token: string };
      const body = JSON.stringify({ name: 'csrf-probe' });
      const headers = { 'content-type': 'application/json' };
      const a = await fetch('/api/tokens', { method: 'POST', headers, body });
      const b = await fetch('/api/tokens', {
        method: 'POST',
        headers: { ...headers, 'x-csrf-token': me.csrf_token },
        body,
      });
      return [{ status: a.status, body: (await a.json()) as any }, { status: b.status }];
    });
    expect(without.status).to.equal(403);
    expect(without.body.error.message).to.match(/csrf/i);
    expect(withToken.status).to.equal(201);
  });

  it('sign-out revokes the session on the server', async () => {
    const cookie = (await admin.cookies()).find((c) => c.name === 'sy_session')!.value;
    expect((await callWithCookie(gw.url, cookie, 'GET', '/api/auth/me')).status).to.equal(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect((await callWithCookie(gw.url, cookie, 'GET', '/api/auth/me')).status).to.equal(401);
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it('loaded nothing from outside the gateway, and broke none of its CSP', () => {
    expect(tb.external).to.deep.equal([]);
    expect(tb.cspViolations, tb.cspViolations.join('\n')).to.deep.equal([]);
  });
});
