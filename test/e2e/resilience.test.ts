import { expect } from 'chai';
import net, { type AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { apiError } from '../helpers/openai.js';
import { waitFor } from '../helpers/wait.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('upstream resilience end to end', function () {
  this.timeout(60_000);
  let fake: FakeUpstream;
  let gw: TestGateway;

  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 20_000 });

  async function start(env: Record<string, string> = {}) {
    gw = await startTestGateway({
      env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '2000', CHANNEL_TEST_EVERY: '0', ...env },
      seed: 5,
    });
  }
  const health = async (id: number) => (await gw.admin('GET', `/api/channels/${id}`)).body.data;

  /** One request through the official client: a stream read to its end, or a whole answer. */
  async function ask(key: string, stream: boolean): Promise<string> {
    if (!stream) {
      const answer = await client(key).chat.completions.create({ model: 'gpt-4o', messages });
      return answer.choices[0]!.message.content ?? '';
    }
    const s = await client(key).chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  }

  /** `total` requests, `concurrency` at a time; returns how many answered with the healthy channel's text. */
  async function load(key: string, total: number, concurrency: number, stream: (i: number) => boolean) {
    let next = 0;
    let ok = 0;
    const failures: string[] = [];
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        try {
          if ((await ask(key, stream(i))) === 'Hello from good as gpt-4o') ok++;
          else failures.push('wrong text');
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { ok, failures };
  }

  /** A channel played by the fake upstream in `mode`, under its own name. */
  const failing = (name: string, mode: string, extra: Record<string, unknown> = {}) => ({
    name,
    base_url: fake.baseUrl(name, mode),
    ...extra,
  });

  /** Channels at priority 10 (routing must learn to skip the failing ones) in front of the healthy `good`. */
  async function inFront(...ahead: Record<string, unknown>[]) {
    const created = [];
    for (const fields of ahead)
      created.push(await gw.channel({ models: ['gpt-4o'], priority: 10, ...fields }));
    const good = await gw.channel({ name: 'good', base_url: fake.baseUrl('good'), models: ['gpt-4o'] });
    return { ahead: created, good };
  }

  const byLabel = () => {
    const counts: Record<string, number> = {};
    for (const r of fake.requests) counts[r.label] = (counts[r.label] ?? 0) + 1;
    return counts;
  };

  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.aborted.length = 0;
  });
  afterEach(async () => {
    fake.release();
    await gw?.stop();
  });

  describe('two of three channels failing, 500 requests each', () => {
    it('500s and a hanging upstream: ≥ 99.8% succeed, both breakers open, the healthy channel carries the load', async () => {
      await start();
      const {
        ahead: [first, second],
        good,
      } = await inFront(failing('boom', '500'), failing('hung', 'hang', { first_byte_timeout_ms: 250 }));
      const token = await gw.token();
      const { ok, failures } = await load(token.key, 500, 10, (i) => i % 2 === 0);
      expect(ok, failures.slice(0, 3).join('; ')).to.be.at.least(499);
      const counts = byLabel();
      expect(counts.good).to.be.at.least(500);
      // The breaker opened after a handful of attempts on each, not a third of the traffic.
      expect((counts.boom ?? 0) + (counts.hung ?? 0)).to.be.below(40);
      for (const ch of [first, second]) {
        const h = (await health(ch.id)).health;
        expect(h.models).to.have.length(1);
        expect(h.models[0]).to.include({ model: 'gpt-4o', breaker: 'open' });
        expect(h.stats.error_rate).to.equal(1);
      }
      const goodHealth = (await health(good.id)).health;
      expect(goodHealth.stats).to.include({ errors: 0, error_rate: 0 });
      expect(goodHealth.stats.requests).to.be.at.least(500);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).to.match(
        new RegExp(`upstream_requests_total\\{channel="${good.id}",model="gpt-4o",outcome="ok"\\} (\\d+)`),
      );
      expect(metrics).to.contain(
        `upstream_requests_total{channel="${second.id}",model="gpt-4o",outcome="timeout"}`,
      );
      expect(metrics).to.contain(`channel_breaker_state{channel="${first.id}",model="gpt-4o"} 2`);
      expect(metrics).to.match(/upstream_duration_seconds_bucket\{le="0.005",channel="\d+",outcome="ok"\}/);
    });

    it('connections reset mid-answer and 429 with Retry-After: ≥ 99.8% succeed, the reset one is cut off, the 429 one cooled', async () => {
      await start();
      const {
        ahead: [first, second],
      } = await inFront(failing('cut', 'reset'), failing('busy', '429'));
      const token = await gw.token();
      const started = Date.now();
      const { ok, failures } = await load(token.key, 500, 10, () => false);
      const seconds = (Date.now() - started) / 1000;
      expect(ok, failures.slice(0, 3).join('; ')).to.be.at.least(499);
      const counts = byLabel();
      expect((await health(first.id)).health.models[0]).to.include({ breaker: 'open' });
      // Retry-After: 1 keeps `busy` out of routing; after each second, the requests then in flight may try it once.
      expect(counts.busy ?? 0).to.be.at.most(10 * (Math.ceil(seconds) + 1));
      expect(counts.busy ?? 0).to.be.below(100);
      const busy = (await health(second.id)).health;
      expect(busy.models[0].reason).to.equal('rate limited (429)');
      expect(busy.models[0].breaker, 'a 429 is a pause, not a fault').to.equal('closed');
    });

    it('a refused key and an account out of credit: ≥ 99.8% succeed, both auto-disabled with reason and time', async () => {
      await start();
      const {
        ahead: [first, second],
      } = await inFront(failing('badkey', '401'), failing('broke', 'nocredit'));
      const token = await gw.token();
      const { ok, failures } = await load(token.key, 500, 10, (i) => i % 3 === 0);
      expect(ok, failures.slice(0, 3).join('; ')).to.be.at.least(499);
      const counts = byLabel();
      expect((counts.badkey ?? 0) + (counts.broke ?? 0)).to.be.below(25);
      for (const [ch, words] of [
        [first, /upstream account unusable: 401 Incorrect API key provided/],
        [second, /upstream account unusable: 429 You exceeded your current quota/],
      ] as const) {
        const data = await health(ch.id);
        expect(data.status).to.equal('auto_disabled');
        expect(data.status_reason).to.match(words);
        expect(Date.parse(data.status_changed_at)).to.be.within(Date.now() - 30_000, Date.now());
      }
    });
  });

  describe('streams', () => {
    it('a stream that breaks after its first event ends with an SSE error event: no hang, no half JSON', async () => {
      await start();
      await gw.channel({ name: 'half', base_url: fake.baseUrl('half', 'halfreset'), models: ['gpt-4o'] });
      const token = await gw.token();
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true }),
        signal: AbortSignal.timeout(5000),
      });
      expect(res.status).to.equal(200);
      const text = await res.text();
      const events = text.split('\n\n').filter(Boolean);
      expect(events).to.have.length(2);
      for (const e of events) {
        expect(e.startsWith('data: ')).to.equal(true);
        JSON.parse(e.slice(6)); // every event is whole JSON
      }
      const last = JSON.parse(events[1]!.slice(6));
      expect(last.error).to.include({ code: 'stream_interrupted', type: 'upstream_error' });
      expect(last.error.message).to.match(/request id: [0-9a-f-]{36}/);
    });

    it('a stream that fails before its first event is retried on another channel', async () => {
      await start();
      await inFront(failing('head', 'headreset'), failing('mute', 'stall', { idle_timeout_ms: 200 }));
      const token = await gw.token();
      expect(await ask(token.key, true)).to.equal('Hello from good as gpt-4o');
      expect(fake.requests.map((r) => r.label).sort()).to.deep.equal(['good', 'head', 'mute']);
    });
  });

  describe('timeouts', () => {
    it('the total budget bounds a request over hanging upstreams, whatever their own timeouts', async () => {
      await start({ UPSTREAM_TOTAL_TIMEOUT_MS: '1000', RETRY_TIMES: '5' });
      for (const name of ['h1', 'h2', 'h3'])
        await gw.channel({
          name,
          base_url: fake.baseUrl(name, 'hang'),
          models: ['gpt-4o'],
          first_byte_timeout_ms: 400,
        });
      await gw.channel({
        name: 'h4',
        base_url: fake.baseUrl('h4', 'stall'),
        models: ['gpt-4o'],
        idle_timeout_ms: 60_000,
      });
      const token = await gw.token();
      for (const stream of [false, true]) {
        fake.requests.length = 0;
        const started = Date.now();
        const err = await apiError(ask(token.key, stream));
        const took = Date.now() - started;
        expect(err.status).to.equal(504);
        expect(err.message).to.contain('UPSTREAM_TOTAL_TIMEOUT_MS');
        expect(took, 'held no longer than the budget').to.be.within(900, 1400);
        expect(fake.requests.length).to.be.within(2, 4);
      }
      await waitFor(() => fake.aborted.length >= 4, 2000, 'the upstream requests to be closed');
    });

    it("a channel's own first-byte timeout applies before the global one", async () => {
      await start({ UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '10000' });
      await inFront(failing('slowpoke', 'slow', { first_byte_timeout_ms: 100 }));
      const token = await gw.token();
      const started = Date.now();
      expect(await ask(token.key, false)).to.equal('Hello from good as gpt-4o');
      expect(Date.now() - started).to.be.below(300);
    });

    it("a channel's own connect timeout applies before the global one", async () => {
      // A TCP server that accepts and never speaks: the TLS handshake of an https channel hangs.
      const silent = net.createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as AddressInfo).port;
      try {
        await start({ UPSTREAM_CONNECT_TIMEOUT_MS: '20000', UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '20000' });
        const {
          ahead: [mute],
        } = await inFront({
          name: 'mute-tls',
          base_url: `https://127.0.0.1:${port}`,
          connect_timeout_ms: 100,
        });
        const token = await gw.token();
        const started = Date.now();
        expect(await ask(token.key, false)).to.equal('Hello from good as gpt-4o');
        // undici checks connect timeouts on its coarse (~0.5 s) timers.
        expect(Date.now() - started).to.be.below(2500);
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        expect(metrics).to.contain(
          `upstream_requests_total{channel="${mute.id}",model="gpt-4o",outcome="connect"} 1`,
        );
      } finally {
        silent.close();
      }
    });

    it('every channel cooled: the least recently failed is tried instead of failing outright', async () => {
      await start({ RETRY_TIMES: '0' });
      for (const name of ['c1', 'c2'])
        await gw.channel({ name, base_url: fake.baseUrl(name, '429'), models: ['gpt-4o'] });
      const token = await gw.token();
      // Each answers 429 (Retry-After: 1): the first request cools one, the second the other.
      expect((await apiError(ask(token.key, false))).status).to.equal(429);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await apiError(ask(token.key, false))).status).to.equal(429);
      const [first, second] = fake.requests.map((r) => r.label);
      expect(second).not.to.equal(first);
      // Both cooling: the one that failed first is tried, rather than a 503.
      expect((await apiError(ask(token.key, false))).status).to.equal(429);
      expect(fake.requests.at(-1)!.label).to.equal(first);
    });
  });

  it('re-enabling a channel by hand gives it a clean slate: no cooldown, no breaker', async () => {
    await start();
    const {
      ahead: [busy],
    } = await inFront(failing('busy', '429'));
    const token = await gw.token();
    await ask(token.key, false);
    expect((await health(busy.id)).health.models).to.have.length(1);
    await gw.admin('PATCH', `/api/channels/${busy.id}`, { status: 'disabled' });
    expect((await health(busy.id)).health.models, 'disabling keeps the record').to.have.length(1);
    const enabled = await gw.admin('PATCH', `/api/channels/${busy.id}`, { status: 'enabled' });
    expect(enabled.body.data).to.include({ status: 'enabled', status_reason: null });
    expect((await health(busy.id)).health.models).to.deep.equal([]);
    fake.requests.length = 0;
    await ask(token.key, false);
    expect(fake.requests[0]!.label, 'tried first again').to.equal('busy');
  });

  describe('channel tests', () => {
    it('POST /api/channels/:id/test records latency and result; GET upstream-models lists the upstream models', async () => {
      await start();
      const good = await gw.channel({ name: 'tested', base_url: fake.baseUrl('tested'), models: ['gpt-4o'] });
      const bad = await gw.channel({
        name: 'refused',
        base_url: fake.baseUrl('refused', '401'),
        models: ['gpt-4o'],
      });
      const passed = await gw.admin('POST', `/api/channels/${good.id}/test`, { model: 'gpt-4o-mini' });
      expect(passed.status).to.equal(200);
      expect(passed.body.data).to.include({ ok: true, status: 200, model: 'gpt-4o-mini', message: null });
      expect(passed.body.data.latency_ms).to.be.a('number');
      expect(fake.requests.at(-1)!.body).to.deep.include({ model: 'gpt-4o-mini', max_tokens: 1 });
      const failed = await gw.admin('POST', `/api/channels/${bad.id}/test`);
      expect(failed.body.data).to.include({ ok: false, status: 401, model: 'gpt-4o' });
      expect(failed.body.data.message).to.contain('Incorrect API key provided');
      // A manual test records; it changes no status.
      expect((await health(bad.id)).status).to.equal('enabled');
      expect((await health(good.id)).health.last_test).to.include({ ok: true, model: 'gpt-4o-mini' });
      expect((await gw.admin('POST', `/api/channels/${good.id}/test`, { model: '' })).status).to.equal(400);
      expect((await gw.admin('POST', '/api/channels/9999/test')).status).to.equal(404);

      // A key SECRET_KEY cannot decrypt fails that channel's test with a clear message, not a 500.
      const broken = await gw.channel({
        name: 'broken-key',
        base_url: fake.baseUrl('broken-key'),
        models: ['gpt-4o'],
        status: 'disabled',
      });
      await gw.gateway.db('channels').where({ id: broken.id }).update({ key_enc: 'not-a-ciphertext' });
      const undecryptable = await gw.admin('POST', `/api/channels/${broken.id}/test`);
      expect(undecryptable.status).to.equal(200);
      expect(undecryptable.body.data).to.include({ ok: false, status: null });
      expect(undecryptable.body.data.message).to.contain('SECRET_KEY');

      const models = await gw.admin('GET', `/api/channels/${good.id}/upstream-models`);
      expect(models.body.data).to.deep.equal(['tested-model-a', 'tested-model-b']);
      const refused = await gw.admin('GET', `/api/channels/${bad.id}/upstream-models`);
      expect(refused.status).to.equal(502);
      expect(refused.body.error.message).to.contain('Incorrect API key provided');
    });

    it('the scheduled test re-enables a passing auto-disabled channel, disables an unusable one, never touches a manually disabled one', async () => {
      await start({ CHANNEL_TEST_EVERY: '300ms' });
      const revived = await gw.channel({
        name: 'revived',
        base_url: fake.baseUrl('revived'),
        models: ['gpt-4o'],
        status: 'auto_disabled',
      });
      const parked = await gw.channel({
        name: 'parked',
        base_url: fake.baseUrl('parked'),
        models: ['gpt-4o'],
        status: 'disabled',
      });
      const dead = await gw.channel({
        name: 'dead',
        base_url: fake.baseUrl('dead', '401'),
        models: ['gpt-4o'],
      });
      await waitFor(async () => (await health(revived.id)).status === 'enabled', 3000, 'revived re-enabled');
      await waitFor(async () => (await health(dead.id)).status === 'auto_disabled', 3000, 'dead disabled');
      expect((await health(revived.id)).status_reason).to.match(/^channel test passed \(\d{4}-/);
      expect((await health(dead.id)).status_reason).to.match(/^channel test: 401 Incorrect API key/);
      // Several more rounds: the manual disable holds, and it is not even tested.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const p = await health(parked.id);
      expect(p.status).to.equal('disabled');
      expect(p.health.last_test).to.equal(null);
      expect(fake.requests.filter((r) => r.label === 'parked')).to.have.length(0);
      expect((await health(dead.id)).health.last_test).to.include({ ok: false, status: 401 });
      // The re-enabled channel serves again.
      const token = await gw.token();
      expect(await ask(token.key, false)).to.equal('Hello from revived as gpt-4o');
    });
  });
});
