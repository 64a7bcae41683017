import { expect } from 'chai';
import http from 'node:http';
import knexFactory from 'knex';
import OpenAI from 'openai';
import { countPromptTokens, countTextTokens } from '../../lib/billing/token-counter.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { uniqueName } from '../helpers/databases.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { logLines } from '../helpers/log-lines.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { usageRows } from '../helpers/usage.js';
import { apiError } from '../helpers/openai.js';
import { callJson } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('billing, rate limits and usage logs on a single node', function () {
  this.timeout(20_000);
  let fake: FakeUpstream;
  let gw: TestGateway;

  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const tokenRow = async (id: number) => (await gw.admin('GET', `/api/tokens/${id}`)).body.data;
  /** The usage log rows of a token, newest first (waits until `n` are there). */
  const logsOf = (tokenId: number, n: number) => usageRows(gw, tokenId, n, 2000);

  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(async () => {
    fake.requests.length = 0;
    gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false', QUOTA_RESERVE_TOKENS: '100' } });
    // Input $2 and output $4 per 1M tokens: 1 and 2 quota units per token.
    expect((await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 4 })).status).to.equal(200);
    await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o', 'free-model'] });
  });
  afterEach(async () => {
    fake.release();
    await gw.stop();
  });

  describe('charging', () => {
    it("charges the upstream's usage at the model's price and the group's ratio, to the token and its user", async () => {
      await gw.admin('PUT', '/api/groups/vip', { ratio: 2 });
      await gw.channel({ name: 'v', base_url: fake.baseUrl('v'), models: ['gpt-4o'], groups: ['vip'] });
      const user = (await gw.admin('POST', '/api/users', { username: 'alice', quota: 1000, group: 'vip' }))
        .body.data;
      const token = await gw.token({ quota: 500, user_id: user.id });
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 20 });
      const [row] = await logsOf(token.id, 1);
      // 10 prompt tokens × 1 + 5 completion tokens × 2 = 20 units, ×2 for the vip group.
      expect(row).to.include({
        type: 'consume',
        user_id: user.id,
        token_id: token.id,
        model: 'gpt-4o',
        upstream_model: 'gpt-4o',
        prompt_tokens: 10,
        completion_tokens: 5,
        quota: 40,
        stream: false,
        status: 200,
        retries: 0,
      });
      expect(row.latency_ms).to.be.a('number');
      expect(row.request_id).to.be.a('string').and.not.equal('');
      expect(await tokenRow(token.id)).to.include({ quota: 460, used_quota: 40 });
      const u = (await gw.admin('GET', `/api/users/${user.id}`)).body.data;
      expect(u).to.include({ quota: 960, used_quota: 40 });
    });

    it('streams: charges from the usage chunk; without one, counts the delivered text with the tokenizer', async () => {
      const token = await gw.token({ quota: 10_000 });
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      for await (const _ of stream) void _;
      const [withUsage] = await logsOf(token.id, 1);
      expect(withUsage).to.include({ prompt_tokens: 10, completion_tokens: 5, quota: 20, stream: true });
      expect(withUsage.ttft_ms).to.be.a('number');

      await gw.channel({
        name: 'n',
        base_url: fake.baseUrl('n', 'nousage'),
        models: ['gpt-4o'],
        priority: 5,
      });
      const second = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      let text = '';
      for await (const chunk of second) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).to.equal('Hello from n as gpt-4o');
      const [counted] = await logsOf(token.id, 2);
      const prompt = await countPromptTokens('chat', { messages });
      const completion = await countTextTokens(text);
      expect(counted).to.include({ prompt_tokens: prompt, completion_tokens: completion });
      expect(counted.quota).to.equal(prompt + 2 * completion);
    });

    it("a stream that breaks off after the upstream's closing usage chunk is charged that usage, not a local count", async () => {
      await gw.channel({
        name: 'u',
        base_url: fake.baseUrl('u', 'usagereset'),
        models: ['gpt-4o'],
        priority: 5,
      });
      const token = await gw.token({ quota: 10_000 });
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      let text = '';
      let broke = false;
      try {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      } catch {
        broke = true;
      }
      expect(broke).to.equal(true);
      expect(text).to.equal('Hello from u as gpt-4o');
      // The local count of the text is larger than the upstream's 5: the upstream's final word stands.
      expect(await countTextTokens(text)).to.be.greaterThan(5);
      const [row] = await logsOf(token.id, 1);
      expect(row).to.include({ prompt_tokens: 10, completion_tokens: 5, quota: 20 });
    });

    it('a client that aborts mid-stream is charged for what was delivered', async () => {
      await gw.channel({ name: 'g', base_url: fake.baseUrl('g', 'gate'), models: ['gpt-4o'], priority: 5 });
      const token = await gw.token({ quota: 10_000 });
      const controller = new AbortController();
      const stream = await client(token.key).chat.completions.create(
        { model: 'gpt-4o', messages, stream: true },
        { signal: controller.signal },
      );
      for await (const chunk of stream) {
        expect(chunk.choices[0]!.delta.content).to.equal('Hello');
        controller.abort();
      }
      const [row] = await logsOf(token.id, 1);
      const hello = await countTextTokens('Hello');
      expect(row).to.include({
        completion_tokens: hello,
        stream: true,
        channel_id: row.channel_id,
      });
      expect(row.quota).to.equal(row.prompt_tokens + 2 * hello);
      expect((await tokenRow(token.id)).used_quota).to.equal(row.quota);
    });

    it('refunds the hold when every upstream fails, and logs the failure', async () => {
      const broken = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'true' } });
      try {
        await broken.channel({ name: 'x', base_url: fake.baseUrl('x', '500'), models: ['m'] });
        await broken.channel({ name: 'y', base_url: fake.baseUrl('y', '500'), models: ['m'], priority: 1 });
        await broken.admin('PUT', '/api/prices/m', { input: 2, output: 2 });
        const token = (await broken.admin('POST', '/api/tokens', { name: 't', quota: 1000 })).body.data;
        const c = new OpenAI({ apiKey: token.key, baseURL: `${broken.url}/v1`, maxRetries: 0 });
        const err = await apiError(c.chat.completions.create({ model: 'm', messages, max_tokens: 500 }));
        expect(err.status).to.equal(500);
        let rows: any[] = [];
        await waitFor(async () => {
          rows = (await broken.admin('GET', `/api/logs?token_id=${token.id}`)).body.data;
          return rows.length === 1;
        }, 2000);
        expect(rows[0]).to.include({ quota: 0, status: 500, retries: 1 });
        expect((await broken.admin('GET', `/api/tokens/${token.id}`)).body.data).to.include({
          quota: 1000,
          used_quota: 0,
        });
        // The hold is back: a request holding nearly all of it passes.
        await broken.channel({ name: 'ok', base_url: fake.baseUrl('ok'), models: ['m'], priority: 9 });
        await c.chat.completions.create({ model: 'm', messages, max_tokens: 900 });
      } finally {
        await broken.stop();
      }
    });

    it('a stream whose upstream breaks before its first event, on every channel, is charged nothing', async () => {
      // Two channels that answer 200 and the stream's headers, then reset (one retried after the other).
      await gw.channel({
        name: 'hr1',
        base_url: fake.baseUrl('hr1', 'headreset'),
        models: ['broken-stream'],
      });
      await gw.channel({
        name: 'hr2',
        base_url: fake.baseUrl('hr2', 'headreset'),
        models: ['broken-stream'],
      });
      expect((await gw.admin('PUT', '/api/prices/broken-stream', { input: 2, output: 4 })).status).to.equal(
        200,
      );
      const token = await gw.token({ quota: 10_000 });
      const err = await apiError(
        (async () => {
          const s = await client(token.key).chat.completions.create({
            model: 'broken-stream',
            messages,
            stream: true,
          });
          for await (const _ of s) void _;
        })(),
      );
      expect(err.status).to.equal(502);
      const [row] = await logsOf(token.id, 1);
      expect(row).to.include({ quota: 0, prompt_tokens: 0, completion_tokens: 0, status: 502 });
      expect(await tokenRow(token.id)).to.include({ quota: 10_000, used_quota: 0 });
    });

    it('refuses an unpriced model with 403 model_not_priced; a * price covers every model', async () => {
      const token = await gw.token();
      const err = await apiError(
        client(token.key).chat.completions.create({ model: 'free-model', messages }),
      );
      expect([err.status, err.code]).to.deep.equal([403, 'model_not_priced']);
      expect(err.message).to.contain('ALLOW_UNPRICED_MODELS');
      expect(fake.requests).to.have.length(0);
      await gw.admin('PUT', '/api/prices/*', { input: 1, output: 1 });
      await client(token.key).chat.completions.create({ model: 'free-model', messages });
      const [row] = await logsOf(token.id, 1);
      expect(row.quota).to.equal(8); // 15 tokens at half a unit each, rounded up
    });

    it('with ALLOW_UNPRICED_MODELS an unpriced model is relayed, charged 0 and the log says so', async () => {
      const open = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'true' } });
      try {
        await open.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['free-model'] });
        const token = (await open.admin('POST', '/api/tokens', { name: 't', quota: 5 })).body.data;
        const c = new OpenAI({ apiKey: token.key, baseURL: `${open.url}/v1`, maxRetries: 0 });
        await c.chat.completions.create({ model: 'free-model', messages });
        let rows: any[] = [];
        await waitFor(async () => {
          rows = (await open.admin('GET', `/api/logs?token_id=${token.id}`)).body.data;
          return rows.length === 1;
        }, 2000);
        expect(rows[0]).to.include({ quota: 0, prompt_tokens: 10 });
        expect(rows[0].note).to.contain('unpriced');
      } finally {
        await open.stop();
      }
    });

    it('with BILLING=false the gateway is a plain relay: no price, quota or limit applies, nothing is logged', async () => {
      const plain = await startTestGateway({ env: { BILLING: 'false', ALLOW_UNPRICED_MODELS: 'false' } });
      try {
        await plain.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['free-model'] });
        const token = (await plain.admin('POST', '/api/tokens', { name: 't', quota: 0, rpm_limit: 1 })).body
          .data;
        const c = new OpenAI({ apiKey: token.key, baseURL: `${plain.url}/v1`, maxRetries: 0 });
        for (let i = 0; i < 3; i++) await c.chat.completions.create({ model: 'free-model', messages });
        await new Promise((r) => setTimeout(r, 100));
        expect((await plain.admin('GET', '/api/logs')).body.total).to.equal(0);
      } finally {
        await plain.stop();
      }
    });

    it('a quota set by PATCH and a top-up reach the live balance at once, and both are logged', async () => {
      const token = await gw.token({ quota: 10 });
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err.status, err.code]).to.deep.equal([429, 'insufficient_quota']);
      await gw.admin('PATCH', `/api/tokens/${token.id}`, { quota: 300 });
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages }); // 20 of 300
      const topup = await gw.admin('POST', `/api/tokens/${token.id}/quota`, {
        delta: 700,
        note: 'invoice 7',
      });
      expect(topup.status).to.equal(200);
      await waitFor(async () => (await tokenRow(token.id)).used_quota === 20, 2000);
      expect((await tokenRow(token.id)).quota).to.equal(980);
      const adjustments = (await gw.admin('GET', `/api/logs?token_id=${token.id}`)).body.data.filter(
        (r: any) => r.type !== 'consume',
      );
      expect(adjustments.map((r: any) => [r.type, r.quota])).to.deep.equal([
        ['topup', 700],
        ['adjust', 290],
      ]);
      expect(adjustments[0].note).to.equal('root: invoice 7');
      const bad = await gw.admin('POST', `/api/tokens/${token.id}/quota`, { delta: 0 });
      expect([bad.status, bad.body.error.param]).to.deep.equal([400, 'delta']);
      const unlimited = await gw.token();
      const refused = await gw.admin('POST', `/api/tokens/${unlimited.id}/quota`, { delta: 5 });
      expect(refused.status).to.equal(400);
    });

    it('an absurd max_tokens is held at a sane ceiling: served on an unlimited token, refused on a small one, never a 500', async () => {
      const free = await gw.token();
      await client(free.key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1e300 });
      const small = await gw.token({ quota: 1000 });
      const err = await apiError(
        client(small.key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1e300 }),
      );
      expect([err.status, err.code]).to.deep.equal([429, 'insufficient_quota']);
    });

    it('a graceful stop writes every settled charge', async () => {
      const token = await gw.token({ quota: 100_000 });
      await Promise.all(
        Array.from({ length: 20 }, () =>
          client(token.key).chat.completions.create({ model: 'gpt-4o', messages }),
        ),
      );
      await gw.gateway.stop();
      const db = knexFactory({
        client: 'better-sqlite3',
        connection: { filename: gw.db.sqliteFile! },
        useNullAsDefault: true,
      });
      try {
        const [{ n, sum }] = await db('usage_logs')
          .where({ token_id: token.id })
          .count({ n: '*' })
          .sum({ sum: 'quota' });
        expect([Number(n), Number(sum)]).to.deep.equal([20, 400]);
        const row = await db('tokens').where({ id: token.id }).first();
        expect([Number(row.quota), Number(row.used_quota)]).to.deep.equal([99_600, 400]);
      } finally {
        await db.destroy();
      }
    });
    it('a stop that cuts off a stream at SHUTDOWN_TIMEOUT_MS still charges what reached the client', async () => {
      const short = await startTestGateway({
        env: { ALLOW_UNPRICED_MODELS: 'false', SHUTDOWN_TIMEOUT_MS: '300' },
      });
      let stopped = false;
      try {
        await short.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 4 });
        // `gate`: the upstream sends one chunk, then waits (until the test ends).
        await short.channel({ name: 'g', base_url: fake.baseUrl('g', 'gate'), models: ['gpt-4o'] });
        const token = (await short.admin('POST', '/api/tokens', { name: 't', quota: 100_000 })).body.data;
        const c = new OpenAI({ apiKey: token.key, baseURL: `${short.url}/v1`, maxRetries: 0 });
        const stream = await c.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
        const reading = (async () => {
          for await (const _ of stream) void _;
        })().catch(() => {});
        await waitFor(() => fake.requests.some((r) => r.label === 'g'), 2000);
        await new Promise((r) => setTimeout(r, 100));
        await short.gateway.stop();
        stopped = true;
        await reading;
        const db = knexFactory({
          client: 'better-sqlite3',
          connection: { filename: short.db.sqliteFile! },
          useNullAsDefault: true,
        });
        try {
          const rows = await db('usage_logs').where({ token_id: token.id });
          expect(rows).to.have.length(1);
          expect(Number(rows[0].quota)).to.be.greaterThan(0);
          const t = await db('tokens').where({ id: token.id }).first();
          expect(Number(t.used_quota)).to.equal(Number(rows[0].quota));
        } finally {
          await db.destroy();
        }
      } finally {
        fake.release();
        if (stopped) await short.db.drop();
        else await short.stop();
      }
    });
  });

  describe('rate limits', () => {
    it("a token's RPM: OpenAI's headers on every answer, then 429 rate_limit_exceeded with Retry-After", async () => {
      const token = await gw.token({ rpm_limit: 3 });
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { response } = await client(token.key)
          .chat.completions.create({ model: 'gpt-4o', messages })
          .withResponse();
        expect(response.headers.get('x-ratelimit-limit-requests')).to.equal('3');
        seen.push(response.headers.get('x-ratelimit-remaining-requests')!);
        expect(response.headers.get('x-ratelimit-reset-requests')).to.match(/^\d+(ms|s)$|^1m0s$/);
      }
      expect(seen).to.deep.equal(['2', '1', '0']);
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err.status, err.code, err.type]).to.deep.equal([429, 'rate_limit_exceeded', 'requests']);
      expect(Number(err.headers?.get('retry-after'))).to.be.within(1, 60);
      expect(err.headers?.get('x-ratelimit-remaining-requests')).to.equal('0');
      expect(fake.requests).to.have.length(3);
    });

    it("a user's TPM counts the prompt estimate plus max_tokens, corrected by the real usage", async () => {
      const user = (await gw.admin('POST', '/api/users', { username: 'bob', tpm_limit: 1000 })).body.data;
      const token = await gw.token({ user_id: user.id });
      const { response } = await client(token.key)
        .chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 600 })
        .withResponse();
      expect(response.headers.get('x-ratelimit-limit-tokens')).to.equal('1000');
      expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).to.be.below(400);
      // The first request really used 15 tokens: another 600 fits once it has settled.
      await logsOf(token.id, 1);
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 600 });
      const err = await apiError(
        client(token.key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 5000 }),
      );
      expect([err.status, err.type]).to.deep.equal([429, 'tokens']);
      expect(err.message).to.contain('Request too large');
    });

    it("a group's RPM is shared by every token in it", async () => {
      await gw.admin('PUT', '/api/groups/default', { ratio: 1, rpm_limit: 2 });
      const [t1, t2] = [await gw.token(), await gw.token()];
      await client(t1.key).chat.completions.create({ model: 'gpt-4o', messages });
      await client(t2.key).chat.completions.create({ model: 'gpt-4o', messages });
      const err = await apiError(client(t1.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect(err.status).to.equal(429);
      expect(err.message).to.contain('group');
    });

    it('limits the admin API per client IP', async () => {
      const strict = await startTestGateway({ env: { ADMIN_RATE_LIMIT: '5' } });
      try {
        const codes = [];
        for (let i = 0; i < 6; i++) codes.push((await strict.admin('GET', '/api/prices')).status);
        expect(codes).to.deep.equal([200, 200, 200, 200, 200, 429]);
        const r = await callJson(strict.url, 'wrong-token', 'GET', '/api/tokens');
        expect(r.status).to.equal(429); // before authentication: no guessing at full speed
        expect(Number(r.headers.get('retry-after'))).to.be.within(1, 60);
      } finally {
        await strict.stop();
      }
    });
  });

  describe('logs and stats', () => {
    it('filters and pages the log; a user sees only its own rows and stats', async () => {
      const alice = (await gw.admin('POST', '/api/users', { username: 'alice' })).body.data;
      const access = (await gw.admin('POST', `/api/users/${alice.id}/access-tokens`, { name: 'a' })).body
        .data;
      const mine = await gw.token({ user_id: alice.id });
      const theirs = await gw.token();
      for (let i = 0; i < 3; i++)
        await client(mine.key).chat.completions.create({ model: 'gpt-4o', messages });
      await client(theirs.key).chat.completions.create({ model: 'gpt-4o', messages });
      await logsOf(mine.id, 3);
      await logsOf(theirs.id, 1);

      const asAlice = (path: string) => callJson(gw.url, access.token, 'GET', path);
      const own = await asAlice('/api/logs?per_page=2');
      expect(own.body.total).to.equal(3);
      expect(own.body.data).to.have.length(2);
      expect(own.body.data.every((r: any) => r.user_id === alice.id)).to.equal(true);
      expect((await asAlice(`/api/logs?user_id=1`)).body.total).to.equal(3); // the filter cannot widen it
      const all = await gw.admin('GET', '/api/logs?model=gpt-4o&status=200');
      expect(all.body.total).to.equal(4);
      const future = await gw.admin('GET', `/api/logs?from=${Math.floor(Date.now() / 1000) + 3600}`);
      expect(future.body.total).to.equal(0);

      const stats = await asAlice('/api/stats');
      const today = new Date().toISOString().slice(0, 10);
      expect(stats.body.data).to.deep.equal([
        { day: today, model: 'gpt-4o', requests: 3, prompt_tokens: 30, completion_tokens: 15, quota: 60 },
      ]);
      expect((await gw.admin('GET', '/api/stats')).body.data[0]).to.include({ requests: 4, quota: 80 });
      const bad = await gw.admin('GET', '/api/logs?from=yesterday');
      expect([bad.status, bad.body.error.param]).to.deep.equal([400, 'from']);
    });

    it('prices and groups: validated, readable by users, writable by admins only', async () => {
      const bad = await gw.admin('PUT', '/api/prices/gpt-4o', { input: -1, output: 1 });
      expect([bad.status, bad.body.error.param]).to.deep.equal([400, 'input']);
      const user = (await gw.admin('POST', '/api/users', { username: 'carol' })).body.data;
      const access = (await gw.admin('POST', `/api/users/${user.id}/access-tokens`, { name: 'c' })).body.data;
      const list = await callJson(gw.url, access.token, 'GET', '/api/prices');
      expect(list.body.data[0]).to.include({ model: 'gpt-4o', input: 2, output: 4, cached_input: null });
      expect(list.body.data[0].quota_per_million).to.deep.equal({ input: 1_000_000, output: 2_000_000 });
      const write = await callJson(gw.url, access.token, 'PUT', '/api/prices/gpt-4o', {
        input: 0,
        output: 0,
      });
      expect(write.status).to.equal(403);
      expect((await gw.admin('DELETE', '/api/prices/nope')).status).to.equal(404);
      expect((await gw.admin('PUT', '/api/groups/bad name', { ratio: 1 })).status).to.equal(400);
    });
  });
});

/**
 * A cluster master (MariaDB, a Redis of the test's own) whose admission waits on Redis while
 * the client gives up: what happens to a request whose client left before its upstream call.
 */
describe('a client that leaves while its request is admitted (a master whose Redis is paused)', function () {
  this.timeout(60_000);
  let redis: PrivateRedis;
  let fake: FakeUpstream;
  let gw: TestGateway;
  const log = logLines();

  before(async () => {
    [redis, fake] = await Promise.all([startPrivateRedis(), startFakeUpstream()]);
    gw = await startTestGateway({
      driver: 'mysql',
      logger: log.logger,
      env: {
        NODE_TYPE: 'master',
        NODE_ID: 'admission',
        REDIS_URL: redis.url,
        REDIS_PREFIX: uniqueName('syadm'),
        ALLOW_UNPRICED_MODELS: 'false',
        QUOTA_RESERVE_TOKENS: '100',
      },
    });
    // Input $2 and output $4 per 1M tokens: 1 and 2 quota units per token.
    expect((await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 4 })).status).to.equal(200);
    await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([fake?.close(), redis?.close()]);
  });

  it('calls no upstream, charges nothing, gives the hold back and logs the request as closed by the client', async () => {
    const token = await gw.token({ quota: 1000 });
    const client = new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    // Known to the node (token cached, balance loaded into Redis): 10 prompt + 5 completion tokens = 20.
    await client.chat.completions.create({ model: 'gpt-4o', messages });
    expect(fake.requests).to.have.length(1);

    // Admission waits on Redis (CLIENT PAUSE, within the 1 s command timeout) while the client
    // gives up; it then goes on, on Redis.
    await redis.pause(800);
    const body = JSON.stringify({ model: 'gpt-4o', messages, max_tokens: 400 });
    const req = http.request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token.key}`,
        'content-type': 'application/json',
        'x-request-id': 'left-during-admission',
      },
    });
    req.on('error', () => {});
    req.end(body);
    await new Promise((resolve) => setTimeout(resolve, 300));
    req.destroy();

    const rows = await usageRows(gw, token.id, 2, 10_000);
    const left = rows.find((r) => r.request_id === 'left-during-admission');
    expect(left).to.include({ status: 499, quota: 0, prompt_tokens: 0, completion_tokens: 0 });
    expect(fake.requests).to.have.length(1);
    expect((await gw.admin('GET', `/api/tokens/${token.id}`)).body.data.used_quota).to.equal(20);
    const line = log.lines.find((l) => l.msg === 'request' && l.requestId === 'left-during-admission');
    expect(line).to.include({ status: 499, aborted: true });
    expect(log.lines.filter((l) => l.component === 'billing')).to.deep.equal([]);
    // The hold (about 820) is back: a request holding nearly all of the 980 left passes.
    await client.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 450 });
    expect(fake.requests).to.have.length(2);
  });
});
