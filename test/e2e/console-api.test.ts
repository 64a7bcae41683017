import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import OpenAI from 'openai';
import { packageRoot } from '../../lib/http/console-static.js';
import type { Driver } from '../helpers/databases.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { insertManyChannels } from '../helpers/many-channels.js';
import { usageRow as fixtureRow } from '../helpers/fixtures.js';
import { logUsage } from '../helpers/usage.js';
import type { UsageRecord } from '../../lib/db/repositories/usage-log.repository.js';
import { signIn, type ConsoleSession } from '../helpers/console-session.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'console password 1';
const messages = [{ role: 'user' as const, content: 'hi' }];
const HOUR = 3_600_000;

/** A relayed request's usage row, as the relay's settlement writes it. */
function usageRow(over: Partial<UsageRecord>): UsageRecord {
  return fixtureRow({
    chargeId: `c-${Math.random().toString(36).slice(2)}`,
    userId: 1,
    promptTokens: 10,
    completionTokens: 5,
    quota: 20,
    latencyMs: 100,
    ttftMs: null,
    ...over,
  });
}

for (const driver of ['sqlite', 'mysql'] as Driver[]) {
  describe(`console API on ${driver}: usage details and dashboard, user-scoped`, function () {
    this.timeout(30_000);
    let fake: FakeUpstream;
    let gw: TestGateway;
    let alice: ConsoleSession;
    let bob: ConsoleSession;
    let aliceToken: { id: number; key: string; name: string };
    let channelId: number;

    before(async () => {
      fake = await startFakeUpstream();
      gw = await startTestGateway({ driver, env: { ALLOW_UNPRICED_MODELS: 'false' } });
      // $2 in and $4 out per 1M tokens (1 and 2 quota units a token), and a group at ratio 2.
      expect((await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 4 })).status).to.equal(200);
      expect((await gw.admin('PUT', '/api/groups/vip', { ratio: 2 })).status).to.equal(200);
      channelId = (
        await gw.channel({
          name: 'vip-chan',
          base_url: fake.baseUrl('v'),
          models: ['gpt-4o'],
          groups: ['vip'],
        })
      ).id;
      for (const [username, group] of [
        ['alice', 'vip'],
        ['bob', 'default'],
      ]) {
        const r = await gw.admin('POST', '/api/users', { username, group, password: PASSWORD });
        expect(r.status).to.equal(201);
      }
      alice = await signIn(gw.url, { username: 'alice', password: PASSWORD });
      bob = await signIn(gw.url, { username: 'bob', password: PASSWORD });
      const created = await alice.call('POST', '/api/tokens', { name: 'alice-key' });
      expect(created.status).to.equal(201);
      aliceToken = created.body.data;
      const client = new OpenAI({ apiKey: aliceToken.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      await client.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 20 });
      await waitFor(
        async () => (await gw.admin('GET', '/api/logs?type=consume')).body.total === 1,
        3000,
        'the usage row',
      );
    });
    after(async () => {
      await gw?.stop();
      await fake?.close();
    });

    it('GET /api/logs/:id shows latency, attempts, upstream model and how the charge was computed', async () => {
      const [row] = (await gw.admin('GET', '/api/logs?type=consume')).body.data;
      const r = await gw.admin('GET', `/api/logs/${row.id}`);
      expect(r.status).to.equal(200);
      const d = r.body.data;
      expect(d).to.include({
        id: row.id,
        model: 'gpt-4o',
        upstream_model: 'gpt-4o',
        retries: 0,
        attempts: 1,
        channel_id: channelId,
        channel_name: 'vip-chan',
        token_id: aliceToken.id,
        token_name: 'alice-key',
        quota: 40,
        status: 200,
      });
      expect(d.latency_ms).to.be.a('number');
      // 10 prompt tokens × $2/1M + 5 completion × $4/1M = $0.00004, × 500000 units/$ × ratio 2 = 40.
      expect(d.charge).to.deep.include({
        priced: true,
        quota: 40,
        computed_quota: 40,
        usd: 40 / 500_000,
        quota_per_usd: 500_000,
        group_ratio: 2,
        price_per_1m: { input: 2, output: 4, cached_input: null, cache_write_input: null },
        tokens: { prompt: 10, cached: 0, cache_write: 0, uncached_prompt: 10, completion: 5 },
      });
      expect(d.charge.usd_before_ratio).to.be.closeTo(0.00004, 1e-12);
      expect(d.charge.explanation).to.contain('ratio 2').and.contain('= 40');
      // The row as stored.
      const stored = await gw.gateway.db('usage_logs').where({ id: row.id }).first();
      expect(Number(stored.price_input)).to.equal(2);
      expect(Number(stored.group_ratio)).to.equal(2);
      expect((await gw.admin('GET', '/api/logs/999999')).status).to.equal(404);
      expect((await gw.admin('GET', '/api/logs/abc')).status).to.equal(400);
    });

    it('a user sees its own request (without the channel name) and never another user’s', async () => {
      const mine = await alice.call('GET', '/api/logs');
      expect(mine.body.total).to.equal(1);
      const id = mine.body.data[0].id;
      const detail = await alice.call('GET', `/api/logs/${id}`);
      expect(detail.status).to.equal(200);
      expect(detail.body.data.channel_name).to.equal(null);
      expect(detail.body.data.charge.quota).to.equal(40);
      expect((await bob.call('GET', `/api/logs/${id}`)).status).to.equal(404);
      expect((await bob.call('GET', '/api/logs')).body.total).to.equal(0);
      // Asking for alice's rows by user_id does not widen bob's view.
      expect((await bob.call('GET', `/api/logs?user_id=${alice.user.id}`)).body.total).to.equal(0);
    });

    it('GET /api/dashboard: series, top models, channels and tokens; a user sees only its own', async () => {
      const all = await gw.admin('GET', '/api/dashboard');
      expect(all.status).to.equal(200);
      expect(all.body.bucket).to.equal('hour');
      expect(all.body.series).to.have.length.within(24, 25);
      const sum = (s: any[], k: string) => s.reduce((n, b) => n + b[k], 0);
      expect(sum(all.body.series, 'requests')).to.equal(1);
      expect(sum(all.body.series, 'tokens')).to.equal(15);
      expect(sum(all.body.series, 'quota')).to.equal(40);
      expect(sum(all.body.series, 'errors')).to.equal(0);
      expect(all.body.top_models).to.deep.equal([{ model: 'gpt-4o', requests: 1, quota: 40 }]);
      expect(all.body.top_channels).to.deep.equal([
        { channel_id: channelId, name: 'vip-chan', requests: 1, quota: 40 },
      ]);
      expect(all.body.top_tokens).to.deep.equal([
        { token_id: aliceToken.id, name: 'alice-key', requests: 1, quota: 40 },
      ]);
      // An admin may narrow it to one user.
      const ofAlice = await gw.admin('GET', `/api/dashboard?user_id=${alice.user.id}`);
      expect(sum(ofAlice.body.series, 'requests')).to.equal(1);
      const ofBob = await gw.admin('GET', `/api/dashboard?user_id=${bob.user.id}`);
      expect(sum(ofBob.body.series, 'requests')).to.equal(0);
      expect((await gw.admin('GET', '/api/dashboard?top=0')).status).to.equal(400);
      // A time past what a date can hold (Unix seconds near 2^53) is the client's mistake, not a 500.
      for (const path of ['/api/dashboard?to=9007199254740991', '/api/logs?from=9007199254740994']) {
        const far = await gw.admin('GET', path);
        expect(far.status, path).to.equal(400);
        expect(far.body.error.param, path).to.be.oneOf(['to', 'from']);
      }
      const a = await alice.call('GET', '/api/dashboard?bucket=day');
      expect(a.status).to.equal(200);
      expect(a.body.series).to.have.length.within(30, 31);
      expect(sum(a.body.series, 'quota')).to.equal(40);
      expect(a.body.top_channels).to.deep.equal([]);
      expect(a.body.top_tokens).to.have.length(1);
      const b = await bob.call('GET', '/api/dashboard');
      expect(sum(b.body.series, 'requests')).to.equal(0);
      expect(b.body.top_models).to.deep.equal([]);
      expect(b.body.top_tokens).to.deep.equal([]);
      expect(
        (await bob.call('GET', `/api/dashboard?user_id=${alice.user.id}`)).body.top_models,
      ).to.deep.equal([]);
    });
  });
}

describe('console API: dashboard buckets, bulk channel actions, config changes', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.stop();
  });

  it('buckets usage by UTC hour with every hour present, errors counted, top lists ordered by requests', async () => {
    const t0 = Date.UTC(2026, 10, 1, 10, 0, 0);
    await logUsage(gw.gateway.db, [
      usageRow({ createdAt: t0 + 10 * 60_000, model: 'a', quota: 10 }), // before `from`
      usageRow({ createdAt: t0 + 40 * 60_000, model: 'b', quota: 5, status: 502 }),
      usageRow({
        createdAt: t0 + 2 * HOUR + 1, // a whole hour of the range: read from the roll-up
        model: 'b',
        quota: 7,
        promptTokens: 1,
        completionTokens: 2,
      }),
      usageRow({ createdAt: t0 + 5 * HOUR, model: 'a', quota: 1 }), // outside `to`
      usageRow({ createdAt: t0 + 60_000, type: 'topup', model: null, quota: 999 }), // not a request
    ]);
    const from = new Date(t0 + 30 * 60_000).toISOString(); // mid-hour: the bucket starts at 10:00
    const to = new Date(t0 + 3 * HOUR).toISOString();
    const r = await gw.admin('GET', `/api/dashboard?from=${from}&to=${to}&bucket=hour`);
    expect(r.status).to.equal(200);
    expect(r.body.series).to.deep.equal([
      { t: '2026-11-01T10:00:00.000Z', requests: 1, tokens: 15, quota: 5, errors: 1 },
      { t: '2026-11-01T11:00:00.000Z', requests: 0, tokens: 0, quota: 0, errors: 0 },
      { t: '2026-11-01T12:00:00.000Z', requests: 1, tokens: 3, quota: 7, errors: 0 },
    ]);
    // 10:10 lies before `from` (10:30): only the 10:40 row counts in the first bucket.
    expect(r.body.top_models).to.deep.equal([{ model: 'b', requests: 2, quota: 12 }]);
    const bad = await gw.admin('GET', `/api/dashboard?from=${to}&to=${from}`);
    expect(bad.status).to.equal(400);
    const tooLong = await gw.admin('GET', '/api/dashboard?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(tooLong.status).to.equal(400);
    expect(tooLong.body.error.param).to.equal('bucket');
    expect((await gw.admin('GET', '/api/dashboard?bucket=week')).status).to.equal(400);
  });

  it('POST /api/channels/bulk enables, disables and deletes: one version per changed channel, failures listed', async () => {
    const ids: number[] = [];
    for (const name of ['a', 'b', 'c'])
      ids.push((await gw.channel({ name, base_url: 'http://127.0.0.1:9', models: ['m'] })).id);
    const before = gw.gateway.sync.status().appliedVersion;
    const off = await gw.admin('POST', '/api/channels/bulk', {
      ids: [ids[1], ids[0], 99999],
      action: 'disable',
    });
    expect(off.status).to.equal(200);
    expect(off.body.data.done).to.deep.equal([ids[0], ids[1]]);
    expect(off.body.data.failed).to.have.length(1);
    expect(off.body.data.failed[0]).to.include({ id: 99999, code: 'not_found' });
    expect(gw.gateway.sync.status().appliedVersion).to.equal(before + 2);
    const list = await gw.admin('GET', '/api/channels?status=disabled');
    expect(list.body.data.map((c: any) => c.id)).to.deep.equal([ids[0], ids[1]]);
    // Disabled channels leave routing on this node at once.
    expect(
      gw.gateway.sync.routing.tiers('default', 'm').flatMap((t) => t.channels.map((c) => c.id)),
    ).to.deep.equal([ids[2]]);
    // Already disabled: nothing to write.
    const again = await gw.admin('POST', '/api/channels/bulk', { ids: [ids[0]], action: 'disable' });
    expect(again.body.data.done).to.deep.equal([ids[0]]);
    expect(gw.gateway.sync.status().appliedVersion).to.equal(before + 2);
    const on = await gw.admin('POST', '/api/channels/bulk', { ids: [ids[0]], action: 'enable' });
    expect(on.body.data.done).to.deep.equal([ids[0]]);
    const gone = await gw.admin('POST', '/api/channels/bulk', { ids: [ids[1], ids[2]], action: 'delete' });
    expect(gone.body.data.done).to.deep.equal([ids[1], ids[2]]);
    expect((await gw.admin('GET', '/api/channels')).body.total).to.equal(1);
    expect(gw.gateway.sync.status().appliedVersion).to.equal(before + 5);
    for (const body of [
      { ids: [], action: 'enable' },
      { ids: [1], action: 'explode' },
      { ids: ['x'], action: 'enable' },
    ]) {
      const r = await gw.admin('POST', '/api/channels/bulk', body);
      expect(r.status, JSON.stringify(body)).to.equal(400);
    }
    // A console session needs its CSRF token for it, and a user may not.
    const s = await signIn(gw.url, { access_token: 'test-admin-token-0123456789' });
    const noCsrf = await s.call(
      'POST',
      '/api/channels/bulk',
      { ids: [ids[0]], action: 'disable' },
      { csrf: false },
    );
    expect(noCsrf.status).to.equal(403);
    expect(
      (await s.call('POST', '/api/channels/bulk', { ids: [ids[0]], action: 'disable' })).status,
    ).to.equal(200);
  });

  it('GET /api/channels/types lists each provider type with the JSON Schema of its settings', async () => {
    const r = await gw.admin('GET', '/api/channels/types');
    expect(r.status).to.equal(200);
    const byType = new Map(r.body.data.map((t: any) => [t.type, t.settings_schema]));
    expect([...byType.keys()]).to.include.members(['openai', 'azure']);
    for (const schema of byType.values()) expect(schema).to.include({ type: 'object' });
    // Every type listed is one a channel can be created with (its settings defaults accepted).
    for (const [type, schema] of byType) {
      if ((schema as any).required?.length) continue;
      const ch = await gw.channel({
        name: `t-${type}`,
        type,
        base_url: 'https://example.com',
        models: ['m'],
      });
      expect(ch.type).to.equal(type);
    }
  });

  it('GET /api/cluster/changes lists the newest config changes first (admins only)', async () => {
    const ch = await gw.channel({ name: 'x', base_url: 'http://127.0.0.1:9', models: ['m'] });
    await gw.admin('PUT', '/api/prices/m', { input: 1, output: 1 });
    await gw.admin('DELETE', `/api/channels/${ch.id}`);
    const r = await gw.admin('GET', '/api/cluster/changes?limit=3');
    expect(r.status).to.equal(200);
    const v = gw.gateway.sync.status().appliedVersion;
    expect(r.body.data.map((c: any) => [c.version, c.kind, c.entity_id, c.op])).to.deep.equal([
      [v, 'channel', String(ch.id), 'delete'],
      [v - 1, 'price', 'm', 'upsert'],
      [v - 2, 'channel', String(ch.id), 'upsert'],
    ]);
    expect(Date.parse(r.body.data[0].at)).to.be.closeTo(Date.now(), 10_000);
    expect((await gw.admin('GET', '/api/cluster/changes?limit=0')).status).to.equal(400);
    // The node's routing digest is compared with the database's.
    const report = (await gw.admin('GET', '/api/cluster')).body;
    expect(report.db_routing_digest).to.match(/^[0-9a-f]{40}$/);
    expect(report.nodes[0]).to.include({
      routing_digest: report.db_routing_digest,
      routing_matches_db: true,
    });
    // A channel written straight to the database (no versioned write) is not in this node's routing yet.
    await gw.gateway.db('channels').insert({
      name: 'sneaked-in',
      type: 'openai',
      base_url: 'http://127.0.0.1:9',
      key_enc: 'x',
      key_masked: 'x',
      models: '[]',
      groups: '["default"]',
      model_mapping: '{}',
      version: v,
      created_at: Date.now(),
      updated_at: Date.now(),
    });
    const after = (await gw.admin('GET', '/api/cluster')).body;
    expect(after.nodes[0].routing_matches_db).to.equal(false);
    await gw.admin('POST', '/api/users', { username: 'u', password: PASSWORD });
    const u = await signIn(gw.url, { username: 'u', password: PASSWORD });
    expect((await u.call('GET', '/api/cluster/changes')).status).to.equal(403);
  });
});

describe('channel list at 10,000 channels (SQLite)', function () {
  this.timeout(60_000);
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
    await insertManyChannels(gw, 10_000);
  });
  after(async () => {
    await gw.stop();
  });

  it('pages, filters and sorts on the server', async () => {
    const timings: Record<string, number> = {};
    const get = async (query: string) => {
      const t = performance.now();
      const r = await gw.admin('GET', `/api/channels?${query}`);
      timings[query] = Math.round((performance.now() - t) * 10) / 10;
      expect(r.status, query).to.equal(200);
      return r.body;
    };
    const first = await get('per_page=100');
    expect(first.total).to.equal(10_000);
    expect(first.data).to.have.length(100);
    expect(first.data[0].name).to.equal('ch-00000');
    const last = await get('per_page=100&page=100');
    expect(last.data[99].name).to.equal('ch-09999');
    const beyond = await get('per_page=100&page=101');
    expect(beyond.data).to.deep.equal([]);
    const azure = await get('type=azure&per_page=100&page=2');
    expect(azure.total).to.equal(1000);
    expect(azure.data.every((c: any) => c.type === 'azure')).to.equal(true);
    expect(azure.data[0].name).to.equal('ch-01000');
    const byPriority = await get('sort=priority&order=desc&per_page=5');
    expect(byPriority.data.map((c: any) => [c.priority, c.name])).to.deep.equal([
      [4, 'ch-09999'],
      [4, 'ch-09994'],
      [4, 'ch-09989'],
      [4, 'ch-09984'],
      [4, 'ch-09979'],
    ]);
    const newest = await get('sort=updated_at&order=desc&per_page=1');
    expect(newest.data[0].name).to.equal('ch-09999');
    const combo = await get('model=gpt-4o&group=vip&status=enabled&q=up3&per_page=100');
    // i % 3 == 0, odd, i % 4 != 0 (always, being odd), i % 7 == 3.
    const expected = Array.from({ length: 10_000 }, (_, i) => i).filter(
      (i) => i % 3 === 0 && i % 2 === 1 && i % 7 === 3,
    );
    expect(combo.total).to.equal(expected.length);
    expect(combo.data.map((c: any) => c.name)).to.deep.equal(
      expected.slice(0, 100).map((i) => `ch-${String(i).padStart(5, '0')}`),
    );
    // "gpt-4o" matches the list element exactly, not gpt-4o-mini alone (every such row has both).
    expect((await get('model=gpt-4o-mini')).total).to.equal(3334);
    console.log(`      (page times at 10k channels, ms: ${JSON.stringify(timings)})`);
  });

  it('refuses an unknown sort column with 400', async () => {
    const r = await gw.admin('GET', '/api/channels?sort=key_enc');
    expect(r.status).to.equal(400);
    expect(r.body.error.param).to.equal('sort');
  });
});

describe('serving the console', function () {
  this.timeout(20_000);
  let gw: TestGateway | undefined;
  let dist: string;
  before(() => {
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-console-'));
    fs.mkdirSync(path.join(dist, 'assets'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Switchyard</title>');
    fs.writeFileSync(path.join(dist, 'assets', 'index-AbC123xy.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dist, 'favicon.svg'), '<svg/>');
  });
  after(() => fs.rmSync(dist, { recursive: true, force: true }));
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  it('serves web/dist at / with SPA fallback, long caching for hashed assets, no-cache HTML and a strict CSP', async () => {
    gw = await startTestGateway({ consoleDir: dist });
    for (const p of ['/', '/channels', '/logs/12?x=1']) {
      const r = await fetch(gw.url + p);
      expect(r.status, p).to.equal(200);
      expect(await r.text()).to.contain('<title>Switchyard</title>');
      expect(r.headers.get('cache-control')).to.equal('no-cache');
      expect(r.headers.get('content-security-policy')).to.contain("default-src 'self'");
      expect(r.headers.get('content-security-policy')).to.contain("script-src 'self'");
      expect(r.headers.get('content-security-policy')).not.to.contain('unsafe');
      expect(r.headers.get('x-content-type-options')).to.equal('nosniff');
    }
    const js = await fetch(`${gw.url}/assets/index-AbC123xy.js`);
    expect(js.status).to.equal(200);
    expect(js.headers.get('cache-control')).to.equal('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).to.match(/javascript/);
    const icon = await fetch(`${gw.url}/favicon.svg`);
    expect(icon.headers.get('cache-control')).to.equal('no-cache');
    expect((await fetch(`${gw.url}/assets/index-gone0000.js`)).status).to.equal(404);
    // The API, the relay and the operator paths are never the page.
    expect((await fetch(`${gw.url}/api/nothing-here`)).status).to.equal(401);
    const api = await gw.admin('GET', '/api/nothing-here');
    expect(api.status).to.equal(404);
    expect(api.body.error.code).to.equal('unknown_url');
    expect((await fetch(`${gw.url}/v1/models`)).status).to.equal(401);
    expect((await fetch(`${gw.url}/admin/other`)).status).to.equal(404);
    expect((await fetch(`${gw.url}/healthz`)).headers.get('content-type')).to.match(/json/);
    expect((await fetch(`${gw.url}/channels`, { method: 'POST' })).status).to.equal(404);
  });

  it('without a build, / says how to make one', async () => {
    gw = await startTestGateway({ consoleDir: path.join(dist, 'missing') });
    const r = await fetch(`${gw.url}/`);
    expect(r.status).to.equal(200);
    expect(await r.text()).to.contain('npm run build');
  });

  it('finds web/dist from the package root under tsx and from dist/', () => {
    const root = packageRoot();
    expect(fs.existsSync(path.join(root, 'package.json'))).to.equal(true);
    expect(packageRoot(path.join(root, 'dist', 'lib', 'http'))).to.equal(root);
    expect(packageRoot(path.join(root, 'lib', 'http'))).to.equal(root);
  });
});
