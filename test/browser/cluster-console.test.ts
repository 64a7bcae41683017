import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, type TestBrowser } from '../helpers/browser.js';
import { CLUSTER_ADMIN_TOKEN, startCluster, type TestCluster } from '../helpers/cluster.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';

/** Signs in with an admin access token (the root bootstrap) through the sign-in page. */
async function signInWithToken(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Access token' }).click();
  await page.getByLabel(/^Admin access token/).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('whoami').waitFor();
}

/** Reads the Cluster page's node rows: role and applied version of each. */
async function nodeRows(page: Page): Promise<{ role: string; version: number }[]> {
  return page.getByTestId('cluster-node').evaluateAll((rows) =>
    rows.map((r) => ({
      role: r.getAttribute('data-role')!,
      version: Number(r.getAttribute('data-version')),
    })),
  );
}

/** The console of a master and a replica on MariaDB + Redis: the cluster's truth, and a change applied everywhere. */
describe('web console on a cluster (Chromium, master + 1 replica)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let upstream: FakeUpstream;
  let tb: TestBrowser;
  let channelId: number;

  before(async () => {
    upstream = await startFakeUpstream();
    cluster = await startCluster({ replicas: 1 });
    const r = await cluster.admin(cluster.master, 'POST', '/api/channels', {
      name: 'cluster-channel',
      base_url: upstream.baseUrl('c'),
      key: 'sk-upstream-test-key',
      models: ['fake-model'],
    });
    expect(r.status).to.equal(201);
    channelId = r.body.data.id;
    tb = await launchBrowser();
  });

  after(async () => {
    await tb?.close();
    await cluster?.stop();
    await upstream?.close();
  });

  it('shows both nodes; a channel disabled in the console shows the new version applied on both', async () => {
    const ctx = await tb.context(cluster.master.url);
    try {
      const page = await ctx.newPage();
      await signInWithToken(page, CLUSTER_ADMIN_TOKEN);
      await page.getByRole('link', { name: 'Cluster' }).click();
      await page.getByTestId('cluster-node').nth(1).waitFor();
      expect((await nodeRows(page)).map((n) => n.role).sort()).to.deep.equal(['master', 'slave']);
      const before = (await cluster.dbState()).version;

      await page.getByRole('link', { name: 'Channels' }).click();
      const row = page.getByTestId(`channel-row-${channelId}`);
      await row.getByRole('button', { name: 'Disable' }).click();
      await row.getByText('disabled').waitFor();
      const after = (await cluster.dbState()).version;
      expect(after).to.be.greaterThan(before);

      await page.getByRole('link', { name: 'Cluster' }).click();
      // The page refreshes itself (every 2 s): both nodes come to the database's new version.
      await page.waitForFunction(
        (v) => {
          const rows = [...(globalThis as any).document.querySelectorAll('[data-testid="cluster-node"]')];
          return rows.length === 2 && rows.every((r: any) => Number(r.getAttribute('data-version')) === v);
        },
        after,
        { timeout: 20_000 },
      );
      expect(await page.getByTestId('db-version').textContent()).to.contain(String(after));
      await page
        .getByTestId('config-change')
        .filter({ hasText: String(after) })
        .first()
        .waitFor();
      await screenshot(page, '20-cluster-after-disable');
      const status = await cluster.status(cluster.replicas[0]!);
      expect(status.version).to.equal(after);
    } finally {
      await ctx.close();
    }
  });

  it('on the replica, the console says it is read-only and a write names the master', async () => {
    const replica = cluster.replicas[0]!;
    const ctx = await tb.context(replica.url);
    try {
      const page = await ctx.newPage();
      await signInWithToken(page, CLUSTER_ADMIN_TOKEN);
      await page.getByText('Read-only replica').waitFor();
      await page.getByTestId('replica-notice').getByText(`:${cluster.master.port}`).waitFor();
      await page.getByRole('link', { name: 'Channels' }).click();
      const row = page.getByTestId(`channel-row-${channelId}`);
      await row.getByRole('button', { name: 'Enable' }).click();
      const alert = page.getByRole('alert', { name: 'Error' });
      await alert.waitFor();
      expect(await alert.textContent()).to.contain(cluster.master.url);
      await screenshot(page, '21-replica-read-only');
    } finally {
      await ctx.close();
    }
  });

  it('loaded nothing from outside the gateway, and broke none of its CSP', () => {
    expect(tb.external).to.deep.equal([]);
    expect(tb.cspViolations, tb.cspViolations.join('\n')).to.deep.equal([]);
  });
});
