import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { apiError } from '../helpers/openai.js';
import { waitFor } from '../helpers/wait.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('relay end to end (official openai client)', function () {
  this.timeout(20_000);
  let fake: FakeUpstream;
  let gw: TestGateway;

  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });

  /** A channel in `mode` at priority 10 in front of a healthy one at priority 0; returns the first. */
  async function inFront(name: string, mode: string, healthy = 'good') {
    const first = await gw.channel({
      name,
      base_url: fake.baseUrl(name, mode),
      models: ['gpt-4o'],
      priority: 10,
    });
    await gw.channel({ name: healthy, base_url: fake.baseUrl(healthy), models: ['gpt-4o'] });
    return first;
  }

  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(async () => {
    fake.requests.length = 0;
    fake.aborted.length = 0;
    gw = await startTestGateway({
      env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '600', QUOTA_RESERVE_TOKENS: '0' },
      seed: 11,
    });
    // $2 per 1M tokens = 1 quota unit per token.
    await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 2 });
  });
  afterEach(async () => {
    fake.release();
    await gw.stop();
  });

  describe('answers', () => {
    it('relays a chat completion and charges its usage', async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
      const token = await gw.token({ quota: 1000 });
      const answer = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      expect(answer.choices[0]!.message.content).to.equal('Hello from a as gpt-4o');
      expect(fake.requests[0]!.authorization).to.equal('Bearer sk-upstream-test-key');
      await waitFor(
        async () => (await gw.admin('GET', `/api/tokens/${token.id}`)).body.data.used_quota === 15,
        2000,
      );
      expect((await gw.admin('GET', `/api/tokens/${token.id}`)).body.data.quota).to.equal(985);
    });

    it('streams, asks the upstream for usage, and hides the usage chunk from a client that did not ask', async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
      const token = await gw.token();
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).to.equal(
        'Hello from a as gpt-4o',
      );
      expect(chunks.every((c) => !c.usage)).to.equal(true);
      expect((fake.requests[0]!.body.stream_options as { include_usage: boolean }).include_usage).to.equal(
        true,
      );
      await waitFor(
        async () => (await gw.admin('GET', `/api/tokens/${token.id}`)).body.data.used_quota === 15,
        2000,
      );
    });

    it('shows the usage chunk to a client that asked for it', async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
      const token = await gw.token();
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.at(-1)!.usage).to.deep.equal({
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
      });
    });

    it('passes each chunk on as it arrives: the first reaches the client while the upstream is still held', async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a', 'gate'), models: ['gpt-4o'] });
      const token = await gw.token();
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      const it = stream[Symbol.asyncIterator]();
      const first = await Promise.race([
        it.next(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('first chunk was held back')), 3000),
        ),
      ]);
      expect(first.value!.choices[0]!.delta.content).to.equal('Hello');
      // The upstream has not finished: its gate is still closed.
      expect(fake.aborted).to.have.length(0);
      fake.release();
      let rest = '';
      for (let r = await it.next(); !r.done; r = await it.next())
        rest += r.value.choices[0]?.delta.content ?? '';
      expect(rest).to.equal(' from a as gpt-4o');
    });

    it('aborts the upstream request when the client disconnects', async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a', 'gate'), models: ['gpt-4o'] });
      const token = await gw.token();
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      for await (const _chunk of stream) {
        stream.controller.abort();
        break;
      }
      await waitFor(() => fake.aborted.length === 1, 3000);
    });

    it('relays completions and embeddings', async () => {
      await gw.channel({
        name: 'a',
        base_url: fake.baseUrl('a'),
        models: ['gpt-3.5-turbo-instruct', 'text-embedding-3-small'],
      });
      const token = await gw.token();
      const c = await client(token.key).completions.create({
        model: 'gpt-3.5-turbo-instruct',
        prompt: 'Say hi',
      });
      expect(c.choices[0]!.text).to.equal('Hello from a as gpt-3.5-turbo-instruct');
      const e = await client(token.key).embeddings.create({
        model: 'text-embedding-3-small',
        input: ['a', 'b'],
        encoding_format: 'float',
      });
      expect(e.data).to.have.length(2);
      expect(e.data[0]!.embedding).to.deep.equal([0.1, 0.2, 0.3]);
      expect(fake.requests.map((r) => r.path)).to.deep.equal(['/v1/completions', '/v1/embeddings']);
    });

    it('lists and retrieves the models of the token group, within its allow-list', async () => {
      await gw.channel({
        name: 'a',
        base_url: fake.baseUrl('a'),
        models: ['gpt-4o', 'gpt-4o-mini'],
        model_mapping: { fast: 'gpt-4o-mini' },
      });
      await gw.channel({ name: 'vip', base_url: fake.baseUrl('v'), models: ['o3'], groups: ['vip'] });
      const token = await gw.token();
      const list = await client(token.key).models.list();
      expect(list.data.map((m) => m.id)).to.deep.equal(['fast', 'gpt-4o', 'gpt-4o-mini']);
      expect((await client(token.key).models.retrieve('gpt-4o')).id).to.equal('gpt-4o');
      const missing = await apiError(client(token.key).models.retrieve('o3'));
      expect(missing.status).to.equal(404);
      const limited = await gw.token({ models: ['gpt-4o'] });
      expect((await client(limited.key).models.list()).data.map((m) => m.id)).to.deep.equal(['gpt-4o']);
    });

    it('sends the mapped model name upstream', async () => {
      await gw.channel({
        name: 'a',
        base_url: fake.baseUrl('a'),
        models: [],
        model_mapping: { 'gpt-4o': 'my-deployment' },
      });
      const token = await gw.token();
      const answer = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      expect(fake.requests[0]!.body.model).to.equal('my-deployment');
      expect(answer.choices[0]!.message.content).to.equal('Hello from a as my-deployment');
    });
  });

  describe('retries', () => {
    for (const mode of ['500', '429', 'hang', 'badjson']) {
      it(`retries a ${mode} on another channel, highest priority first`, async () => {
        await inFront('bad', mode);
        const token = await gw.token();
        const answer = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
        expect(answer.choices[0]!.message.content).to.equal('Hello from good as gpt-4o');
        expect(fake.requests.map((r) => r.label)).to.deep.equal(['bad', 'good']);
      });
    }

    it('retries a refused connection', async () => {
      await gw.channel({ name: 'down', base_url: 'http://127.0.0.1:1', models: ['gpt-4o'], priority: 10 });
      await gw.channel({ name: 'good', base_url: fake.baseUrl('good'), models: ['gpt-4o'] });
      const token = await gw.token();
      const answer = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      expect(answer.choices[0]!.message.content).to.equal('Hello from good as gpt-4o');
    });

    it('a refused upstream key: retried elsewhere, and the channel auto-disabled with reason and time', async () => {
      const bad = await inFront('bad-key', '401');
      const token = await gw.token();
      const answer = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      expect(answer.choices[0]!.message.content).to.equal('Hello from good as gpt-4o');
      await waitFor(
        async () => (await gw.admin('GET', `/api/channels/${bad.id}`)).body.data.status === 'auto_disabled',
        2000,
      );
      const disabled = (await gw.admin('GET', `/api/channels/${bad.id}`)).body.data;
      expect(disabled.status_reason).to.match(
        /upstream account unusable: 401 Incorrect API key provided \(\d{4}-\d\d-\d\dT/,
      );
      fake.requests.length = 0;
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      expect(fake.requests.map((r) => r.label)).to.deep.equal(['good']);
    });

    it('a 429 cools the channel for its Retry-After: the next request goes elsewhere first', async () => {
      await inFront('busy', '429', 'calm');
      const token = await gw.token();
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      // busy (429, Retry-After: 1) then calm; then calm directly while busy cools.
      expect(fake.requests.map((r) => r.label)).to.deep.equal(['busy', 'calm', 'calm']);
    });

    it("never retries a 400: the client sees the upstream's status and param, not its words", async () => {
      await inFront('strict', '400');
      const token = await gw.token();
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect(err.status).to.equal(400);
      expect(err.param).to.equal('temperature');
      expect(err.message).to.contain('temperature').and.not.to.contain('Invalid value');
      expect(fake.requests).to.have.length(1);
    });

    it('exhausts a tier before the next and never tries a channel twice', async () => {
      for (const n of [1, 2, 3])
        await gw.channel({
          name: `top${n}`,
          base_url: fake.baseUrl(`top${n}`, '500'),
          models: ['gpt-4o'],
          priority: 5,
        });
      await gw.channel({
        name: 'low',
        base_url: fake.baseUrl('low', '500'),
        models: ['gpt-4o'],
        priority: 1,
      });
      const token = await gw.token();
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      // RETRY_TIMES=2: three attempts, all in the top tier, each on a different channel.
      expect(err.status).to.equal(500);
      const labels = fake.requests.map((r) => r.label);
      expect(labels).to.have.length(3);
      expect(new Set(labels)).to.deep.equal(new Set(['top1', 'top2', 'top3']));
    });

    it('gives 504 when every channel timed out, naming the request id', async () => {
      await gw.channel({ name: 'h', base_url: fake.baseUrl('h', 'hang'), models: ['gpt-4o'] });
      const token = await gw.token();
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect(err.status).to.equal(504);
      expect(err.message).to.match(/request id: [0-9a-f-]{36}/);
    });

    it('ends a stream that breaks mid-way with an SSE error event the client reports', async () => {
      await gw.channel({ name: 'r', base_url: fake.baseUrl('r', 'reset'), models: ['gpt-4o'] });
      const token = await gw.token();
      const stream = await client(token.key).chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      const got: string[] = [];
      let error: unknown;
      try {
        for await (const chunk of stream) got.push(chunk.choices[0]?.delta.content ?? '');
      } catch (err) {
        error = err;
      }
      expect(got).to.deep.equal(['Hello']);
      expect(error).to.be.instanceOf(OpenAI.APIError);
      expect((error as Error).message).to.contain('stream broke off');
    });
  });

  describe('errors as the client sees them', () => {
    beforeEach(async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
    });

    it('401 for a missing or unknown key', async () => {
      const err = await apiError(
        client('sk-not-a-real-key').chat.completions.create({ model: 'gpt-4o', messages }),
      );
      expect(err.status).to.equal(401);
      expect(err.message).to.contain('Incorrect API key provided');
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).to.equal(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('missing_api_key');
    });

    it('401 for a disabled or expired token, effective on the very next request', async () => {
      const token = await gw.token();
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
      await gw.admin('PATCH', `/api/tokens/${token.id}`, { status: 'disabled' });
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err.status, err.code]).to.deep.equal([401, 'token_disabled']);

      const expired = await gw.token({ expires_at: new Date(Date.now() - 1000).toISOString() });
      const err2 = await apiError(client(expired.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err2.status, err2.code]).to.deep.equal([401, 'token_expired']);

      await gw.admin('DELETE', `/api/tokens/${token.id}`);
      const err3 = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect(err3.status).to.equal(401);
    });

    it('403 for a model outside the allow-list, and for an IP outside the subnets', async () => {
      const limited = await gw.token({ models: ['gpt-4o-mini'] });
      const err = await apiError(client(limited.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err.status, err.code]).to.deep.equal([403, 'model_not_allowed']);
      const fenced = await gw.token({ subnets: ['10.0.0.0/8'] });
      const err2 = await apiError(client(fenced.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err2.status, err2.code]).to.deep.equal([403, 'ip_not_allowed']);
      const local = await gw.token({ subnets: ['127.0.0.0/8', '::1/128'] });
      await client(local.key).chat.completions.create({ model: 'gpt-4o', messages });
    });

    it('429 insufficient_quota once the quota is spent', async () => {
      const token = await gw.token({ quota: 20 });
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages }); // 15 of 20
      // 5 left is less than the prompt this request holds: refused before any upstream call.
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect([err.status, err.code]).to.deep.equal([429, 'insufficient_quota']);
      await gw.admin('PATCH', `/api/tokens/${token.id}`, { quota: 100 });
      await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
    });

    it('503 naming group and model when no channel serves it', async () => {
      const token = await gw.token();
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-5', messages }));
      expect(err.status).to.equal(503);
      expect(err.message).to.contain('No available channel for model gpt-5 in group default');
    });

    it('400 for malformed JSON or a missing model, 413 past MAX_BODY, x-request-id on every answer', async () => {
      const token = await gw.token();
      const post = (body: string) =>
        fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          body,
          headers: {
            authorization: `Bearer ${token.key}`,
            'content-type': 'application/json',
            'x-request-id': 'client-chosen-id',
          },
        });
      const bad = await post('{"model": "gpt-4o",');
      expect(bad.status).to.equal(400);
      expect(bad.headers.get('x-request-id')).to.equal('client-chosen-id');
      const body = (await bad.json()) as { error: { message: string; type: string; code: string } };
      expect(body.error.type).to.equal('invalid_request_error');
      expect(body.error.message).to.contain('Malformed JSON').and.to.contain('request id: client-chosen-id');
      const noModel = await post('{"messages": []}');
      expect(noModel.status).to.equal(400);
      expect(((await noModel.json()) as { error: { param: string } }).error.param).to.equal('model');
      const big = await post(
        JSON.stringify({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'x'.repeat(21 * 1024 * 1024) }],
        }),
      );
      expect(big.status).to.equal(413);
      const ok = await fetch(`${gw.url}/healthz`);
      expect(ok.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    });
  });

  describe('config changes apply on the very next request', () => {
    it('channel created, edited, disabled, re-enabled and deleted', async () => {
      const token = await gw.token();
      const ask = (model: string) => client(token.key).chat.completions.create({ model, messages });
      const ch = await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
      expect((await ask('gpt-4o')).choices[0]!.message.content).to.contain('from a');

      await gw.admin('PATCH', `/api/channels/${ch.id}`, { models: ['gpt-4o', 'o4-mini'], key: 'sk-rotated' });
      await ask('o4-mini');
      expect(fake.requests.at(-1)!.authorization).to.equal('Bearer sk-rotated');

      await gw.admin('PATCH', `/api/channels/${ch.id}`, { status: 'disabled' });
      expect((await apiError(ask('gpt-4o'))).status).to.equal(503);

      await gw.admin('PATCH', `/api/channels/${ch.id}`, { status: 'enabled' });
      await ask('gpt-4o');

      expect((await gw.admin('DELETE', `/api/channels/${ch.id}`)).status).to.equal(204);
      expect((await apiError(ask('gpt-4o'))).status).to.equal(503);
    });

    it('a channel moved to another group leaves the old one', async () => {
      const token = await gw.token();
      const ch = await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
      await gw.admin('PATCH', `/api/channels/${ch.id}`, { groups: ['vip'] });
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect(err.status).to.equal(503);
      const vip = await gw.token({ group: 'vip' });
      await client(vip.key).chat.completions.create({ model: 'gpt-4o', messages });
    });
  });
});
