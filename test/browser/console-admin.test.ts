import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, signInWithPassword, type TestBrowser } from '../helpers/browser.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { callWithCookie, postLogin } from '../helpers/console-session.js';
import { callJson } from '../helpers/http.js';
import { usageRows } from '../helpers/usage.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = { username: 'ops', password: 'ops-console-password-1' };
const DAY = 86_400_000;

/** `YYYY-MM-DDTHH:mm` in local time: what a datetime-local input takes. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * The console's admin flows in Chromium against a real gateway (SQLite) and the fake upstream:
 * prices and group ratios, users' access tokens and top-ups, changing one's own password, and the
 * usage log's filters. Each test checks what the page shows against what the API answers.
 */
describe('web console: admin flows (Chromium)', function () {
  this.timeout(120_000);
  let gw: TestGateway;
  let upstream: FakeUpstream;
  let tb: TestBrowser;
  let admin: BrowserContext;
  let page: Page;

  /** Creates a user through the API; returns its id. */
  async function user(fields: Record<string, unknown>): Promise<number> {
    const r = await gw.admin('POST', '/api/users', { role: 'user', ...fields });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    return r.body.data.id;
  }

  /** One relayed chat completion (not streamed); its status. */
  async function chat(key: string, model: string): Promise<number> {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Opens a page of the console afresh in the admin's browser. */
  async function open(path: string): Promise<void> {
    await page.goto(path);
    await page.getByTestId('whoami').waitFor();
  }

  /** Waits until the usage log holds `n` rows for `query` (rows are written after the answer). */
  async function logged(query: string, n: number): Promise<void> {
    await waitFor(
      async () => (await gw.admin('GET', `/api/logs?${query}`)).body.total === n,
      5000,
      `${n} usage rows for ${query}`,
    );
  }

  before(async () => {
    upstream = await startFakeUpstream();
    gw = await startTestGateway({ env: { CHANNEL_TEST_EVERY: '0' } });
    await user({ ...ADMIN, role: 'admin' });
    tb = await launchBrowser();
    admin = await tb.context(gw.url);
    page = await admin.newPage();
    await signInWithPassword(page, ADMIN.username, ADMIN.password);
  });

  after(async () => {
    await tb?.close();
    await gw?.stop();
    await upstream?.close();
  });

  it('edits a model price (US$ per 1M) and a group ratio; the API and the next charge follow', async () => {
    const MODEL = 'priced-model';
    expect((await gw.admin('PUT', `/api/prices/${MODEL}`, { input: 2, output: 8 })).status).to.equal(200);
    expect((await gw.admin('PUT', '/api/groups/gold', { ratio: 1 })).status).to.equal(200);
    await gw.channel({
      name: 'gold-chan',
      base_url: upstream.baseUrl('gold'),
      models: [MODEL],
      groups: ['gold'],
    });

    await open('/prices');
    const prices = page.getByRole('table', { name: 'Model prices (US$ per 1M tokens)' });
    const priceRow = prices.locator('tr', { hasText: MODEL });
    await priceRow.getByRole('button', { name: 'Edit' }).click();
    const dialog = page.getByRole('dialog', { name: `Price of ${MODEL}` });
    expect(await dialog.getByLabel('Model').isDisabled()).to.equal(true);
    await dialog.getByLabel(/^Input \(US\$ per 1M tokens\)/).fill('2.5');
    await dialog.getByLabel(/^Cached input \(US\$ per 1M tokens\)/).fill('1.25');
    await dialog.getByLabel(/^Output \(US\$ per 1M tokens\)/).fill('10');
    await screenshot(page, 'admin-01-price-edit');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await priceRow.getByText('$2.5', { exact: true }).waitFor();
    expect(await priceRow.locator('td').allTextContents()).to.deep.equal([
      MODEL,
      '$2.5',
      '$1.25',
      '$10',
      'EditDelete',
    ]);
    // The API keeps dollars per 1M and shows them in quota units too (500,000 units = $1).
    const stored = (await gw.admin('GET', '/api/prices')).body.data.find((p: any) => p.model === MODEL);
    expect(stored).to.deep.include({ input: 2.5, output: 10, cached_input: 1.25 });
    expect(stored.quota_per_million).to.deep.equal({ input: 1_250_000, output: 5_000_000 });

    const groupRow = page.getByRole('table', { name: 'Groups' }).locator('tr', { hasText: 'gold' });
    await groupRow.getByRole('button', { name: 'Edit' }).click();
    const groupDialog = page.getByRole('dialog', { name: 'Group gold' });
    await groupDialog.getByLabel(/^Price ratio/).fill('2');
    await groupDialog.getByLabel('Requests per minute').fill('600');
    await groupDialog.getByRole('button', { name: 'Save' }).click();
    await groupDialog.waitFor({ state: 'detached' });
    await groupRow.getByText('×2', { exact: true }).waitFor();
    expect(await groupRow.locator('td').allTextContents()).to.deep.equal([
      'gold',
      '×2',
      '600',
      '—',
      'EditDelete',
    ]);
    await screenshot(page, 'admin-02-prices-groups');
    const group = (await gw.admin('GET', '/api/groups')).body.data.find((g: any) => g.name === 'gold');
    expect(group).to.deep.include({ ratio: 2, rpm_limit: 600, tpm_limit: null });

    // The next request is charged at the new price and ratio: the fake's 10 + 5 tokens cost
    // (10 × $2.5 + 5 × $10) / 1M = $0.000075 = 37.5 units, × 2 = 75 units.
    const token = await gw.token({ name: 'gold-token', group: 'gold' });
    expect(await chat(token.key, MODEL)).to.equal(200);
    const [row] = await usageRows(gw, token.id, 1);
    expect(row.quota).to.equal(75);
  });
  it('creates an access token for a user on the Users page: it works as a bearer until revoked', async () => {
    const aliceId = await user({ username: 'alice', password: 'alice-console-password-1' });
    await open('/users');
    const row = page.locator('tr', { hasText: 'alice' });
    await row.getByRole('button', { name: 'Access tokens' }).click();
    const dialog = page.getByRole('dialog', { name: 'Access tokens of alice' });
    await dialog.getByRole('table', { name: 'Access tokens' }).waitFor();
    await dialog.getByLabel(/^Name/).fill('alice-cli');
    await dialog.getByRole('button', { name: 'New access token' }).click();
    const shown = dialog.getByRole('alert').filter({ hasText: 'Copy the token now' });
    await shown.getByText('This is the only time the token is shown.').waitFor();
    const token = (await shown.locator('pre').textContent())!.trim();
    expect(token).to.match(/^sya-[A-Za-z0-9]{48}$/);
    const listed = dialog
      .getByRole('table', { name: 'Access tokens' })
      .locator('tr', { hasText: 'alice-cli' });
    await listed.waitFor();
    // The list shows only the token's first 8 characters.
    expect(await listed.locator('code').textContent()).to.equal(`${token.slice(0, 8)}…`);
    await screenshot(page, 'admin-03-access-token-created');

    // The token is alice's: the API takes it as a bearer, with alice's rights (a user's).
    const me = await callJson(gw.url, token, 'GET', '/api/auth/me');
    expect(me.status).to.equal(200);
    expect(me.body.user).to.deep.include({ id: aliceId, username: 'alice', role: 'user' });
    expect((await callJson(gw.url, token, 'GET', '/api/channels')).status).to.equal(403);
    const stored = (await gw.admin('GET', `/api/users/${aliceId}/access-tokens`)).body.data;
    expect(stored.map((a: any) => a.name)).to.deep.equal(['alice-cli']);

    await listed.getByRole('button', { name: 'Revoke' }).click();
    await listed.waitFor({ state: 'detached' });
    // A revoked token is no longer offered for copying.
    await shown.waitFor({ state: 'detached' });
    expect((await gw.admin('GET', `/api/users/${aliceId}/access-tokens`)).body.data).to.deep.equal([]);
    const after = await callJson(gw.url, token, 'GET', '/api/auth/me');
    expect(after.status).to.equal(401);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });
  it('changes its own password on the Account page: this browser stays signed in, every other session ends', async () => {
    const OLD = 'dave-console-password-1';
    const NEW = 'dave-console-password-2';
    await user({ username: 'dave', password: OLD });
    const here = await tb.context(gw.url);
    const elsewhere = await tb.context(gw.url);
    try {
      const p = await here.newPage();
      const other = await elsewhere.newPage();
      await signInWithPassword(p, 'dave', OLD);
      await signInWithPassword(other, 'dave', OLD);
      const cookieOf = async (ctx: BrowserContext) =>
        (await ctx.cookies()).find((c) => c.name === 'sy_session')!.value;
      const before = await cookieOf(here);
      const otherCookie = await cookieOf(elsewhere);

      await p.getByRole('link', { name: 'Account' }).click();
      const form = p.locator('form', { has: p.getByRole('button', { name: 'Set password' }) });
      // A wrong current password is refused on the form, and the session goes on.
      await form.getByLabel(/^Current password/).fill('not-the-password-1');
      await form.getByLabel(/^New password/).fill(NEW);
      await form.getByLabel(/^Repeat the new password/).fill(NEW);
      await form.getByRole('button', { name: 'Set password' }).click();
      await form.getByRole('alert').getByText('current_password is wrong').waitFor();
      expect(await p.getByTestId('whoami').textContent()).to.contain('dave');
      expect((await callWithCookie(gw.url, before, 'GET', '/api/auth/me')).status).to.equal(200);

      await form.getByLabel(/^Current password/).fill(OLD);
      await form.getByRole('button', { name: 'Set password' }).click();
      await form
        .getByRole('status')
        .getByText('Password changed. Other sessions of this user are signed out.')
        .waitFor();
      await screenshot(p, 'admin-04-password-changed');

      // This browser got a new session; the old one, and the other browser's, have ended.
      const after = await cookieOf(here);
      expect(after).not.to.equal(before);
      expect((await callWithCookie(gw.url, before, 'GET', '/api/auth/me')).status).to.equal(401);
      expect((await callWithCookie(gw.url, otherCookie, 'GET', '/api/auth/me')).status).to.equal(401);
      expect((await callWithCookie(gw.url, after, 'GET', '/api/auth/me')).body.user.username).to.equal(
        'dave',
      );
      // ... and the page writes with the new session's CSRF token: a token is created.
      await p.getByRole('link', { name: 'Tokens' }).click();
      await p.getByRole('button', { name: 'New token' }).click();
      const create = p.getByRole('dialog');
      await create.getByLabel('Name').fill('after-password-change');
      await create.getByRole('button', { name: 'Create' }).click();
      await p.getByRole('dialog', { name: 'Token created' }).waitFor();

      await other.reload();
      await other.getByRole('button', { name: 'Sign in' }).waitFor();
      // The old password no longer signs in; the new one does.
      const refused = await postLogin(gw.url, { username: 'dave', password: OLD });
      expect([refused.status, refused.body.error.code]).to.deep.equal([401, 'invalid_credentials']);
      await signInWithPassword(other, 'dave', NEW);
      expect(await other.getByTestId('whoami').textContent()).to.contain('dave');
    } finally {
      await here.close();
      await elsewhere.close();
    }
  });
  it('tops up a user in dollars on the Users page: the balance and the log show the quota units', async () => {
    const id = await user({ username: 'erin', quota: 500_000 });
    await open('/users');
    const row = page.locator('tr', { hasText: 'erin' });
    await row.getByText('$1', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Top up' }).click();
    const dialog = page.getByRole('dialog', { name: 'Top up erin' });
    await dialog.getByLabel(/^Amount \(US\$\)/).fill('0.25');
    await dialog.getByText('= 125,000 quota units; negative to correct').waitFor();
    await dialog.getByLabel('Note').fill('invoice 42');
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.getByText('$1.25', { exact: true }).waitFor();
    await screenshot(page, 'admin-05-user-topped-up');
    expect((await gw.admin('GET', `/api/users/${id}`)).body.data.quota).to.equal(625_000);
    const [topUp] = (await gw.admin('GET', `/api/logs?user_id=${id}&type=topup`)).body.data;
    // The note names who topped up.
    expect(topUp).to.deep.include({ quota: 125_000, note: 'ops: invoice 42' });
  });

  it('narrows the usage log by time range, token, user, channel, model and status, page by page', async () => {
    const [u1, u2] = [await user({ username: 'log-u1' }), await user({ username: 'log-u2' })];
    const ok = await gw.channel({
      name: 'log-ok',
      base_url: upstream.baseUrl('log'),
      models: ['log-a', 'log-b'],
    });
    const bad = await gw.channel({
      name: 'log-bad',
      base_url: upstream.baseUrl('bad', '400'),
      models: ['log-x'],
    });
    const t1 = await gw.token({ name: 'log-t1', user_id: u1 });
    const t2 = await gw.token({ name: 'log-t2', user_id: u1 });
    const t3 = await gw.token({ name: 'log-t3', user_id: u2 });
    // 26 relayed requests (the upstream refuses log-x with a 400), and 2 rows from 3 days ago.
    const sent: [typeof t1, string, number][] = [
      [t1, 'log-a', 18],
      [t1, 'log-b', 3],
      [t2, 'log-b', 2],
      [t3, 'log-a', 2],
      [t3, 'log-x', 1],
    ];
    for (const [t, model, n] of sent)
      for (let i = 0; i < n; i++) expect(await chat(t.key, model)).to.equal(model === 'log-x' ? 400 : 200);
    await gw.gateway.db('usage_logs').insert(
      [1, 2].map((i) => ({
        charge_id: `old-${i}`,
        request_id: `old-request-${i}`,
        type: 'consume',
        created_at: Date.now() - 3 * DAY,
        user_id: u1,
        token_id: t1.id,
        channel_id: ok.id,
        model: 'log-a',
        upstream_model: 'log-a',
        prompt_tokens: 10,
        completion_tokens: 5,
        cached_tokens: 0,
        quota: 0,
        latency_ms: 100,
        ttft_ms: null,
        stream: false,
        status: 200,
        retries: 0,
        note: null,
      })),
    );
    await logged(`token_id=${t1.id}`, 23);
    await logged(`token_id=${t2.id}`, 2);
    await logged(`token_id=${t3.id}`, 3);
    const all = (await gw.admin('GET', '/api/logs')).body.total;

    await open('/logs');
    const rows = page.locator('tbody tr[data-testid^="log-row-"]');
    /** Waits for "n entries" under the table and `rowsShown` rows on the page. */
    const shows = async (n: number, rowsShown = Math.min(n, 20)) => {
      await page.getByText(`${n.toLocaleString('en-US')} entries`, { exact: true }).waitFor();
      // Another page of the same filter has the same count: wait for its rows too.
      await rows.nth(rowsShown).waitFor({ state: 'detached' });
      if (rowsShown > 0) await rows.nth(rowsShown - 1).waitFor();
      expect(await rows.count()).to.equal(rowsShown);
    };
    /** The cells of the shown rows in the column headed `name`. */
    const column = async (name: string) => {
      const i = (await page.locator('main table thead th').allTextContents()).indexOf(name);
      expect(i, name).to.be.at.least(0);
      return rows.locator(`td:nth-child(${i + 1})`).allTextContents();
    };
    const filter = (label: string) => page.getByLabel(label, { exact: true });
    await shows(all);

    // Token: 23 rows, 20 on the first page and 3 on the second.
    await filter('Token ID').fill(String(t1.id));
    await shows(23);
    expect(new Set(await column('Token'))).to.deep.equal(new Set([String(t1.id)]));
    await page.getByRole('button', { name: '2', exact: true }).click();
    await shows(23, 3);
    await screenshot(page, 'admin-06-usage-log-token-page-2');
    // A new filter starts again from the first page.
    await filter('Model').fill('log-b');
    await shows(3);
    expect(new Set(await column('Model'))).to.deep.equal(new Set(['log-b']));
    await filter('Token ID').fill('');
    await shows(5);

    // User: both of log-u1's tokens; with the model cleared, all 25 of its rows.
    await filter('User ID').fill(String(u1));
    await shows(5);
    await filter('Model').fill('');
    await shows(25);
    expect(new Set(await column('User'))).to.deep.equal(new Set([String(u1)]));
    await filter('User ID').fill(String(u2));
    await shows(3);

    // Status: log-u2's refused request; channel: the channel that refused it.
    await filter('HTTP status').fill('400');
    await shows(1);
    expect(await column('Model')).to.deep.equal(['log-x']);
    await filter('User ID').fill('');
    await filter('HTTP status').fill('');
    await filter('Channel ID').fill(String(bad.id));
    await shows(1);
    expect(await column('Status')).to.deep.equal(['400']);
    await filter('Channel ID').fill(String(ok.id));
    await shows(27);
    await filter('Channel ID').fill('');
    await shows(all);

    // Time range: the two rows of 3 days ago end before "2 days ago"; the rest start after "1 day ago".
    await filter('To').fill(localInput(Date.now() - 2 * DAY));
    await shows(2);
    expect(await column('Model')).to.deep.equal(['log-a', 'log-a']);
    await filter('To').fill('');
    await filter('From').fill(localInput(Date.now() - DAY));
    await shows(all - 2);
    await screenshot(page, 'admin-07-usage-log-from');
    await filter('From').fill('');
    await shows(all);
  });

  it('loaded nothing from outside the gateway, and broke none of its CSP', () => {
    expect(tb.external).to.deep.equal([]);
    expect(tb.cspViolations, tb.cspViolations.join('\n')).to.deep.equal([]);
  });
});
