import { expect } from 'chai';
import OpenAI from 'openai';
import { CHARS_PER_TOKEN_ESTIMATE } from '../../lib/billing/token-counter.js';
import { FAKE_CACHE_USAGE, startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startClaudeTestGateway } from '../helpers/anthropic.js';
import { usageRows } from '../helpers/usage.js';
import { apiError } from '../helpers/openai.js';
import { waitFor } from '../helpers/wait.js';

/**
 * OpenAI's official client → the gateway → Claude channels (`type: "anthropic"`), against the
 * strict fake Anthropic API: every translated request must pass its checks (`fake.rejected` stays
 * empty), and every answer is billed exactly at the model's prices.
 */
describe('Claude channels behind the OpenAI API', function () {
  this.timeout(20_000);
  let claude: FakeAnthropic;
  let openaiUp: FakeUpstream;
  let gw: TestGateway;
  let key: string;
  let tokenId: number;

  const client = () => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const messages = [{ role: 'user' as const, content: 'hi' }];
  const weather = {
    type: 'function' as const,
    function: {
      name: 'weather',
      description: 'Weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  };

  /** The usage rows of the test's token, oldest first, once `n` are written. */
  const rows = async (n: number) => (await usageRows(gw, tokenId, n)).reverse();

  const claudeRequests = () => claude.requests.filter((r) => r.path === '/v1/messages');

  before(async () => {
    claude = await startFakeAnthropic();
    openaiUp = await startFakeUpstream();
  });
  after(async () => {
    await claude.close();
    await openaiUp.close();
  });
  beforeEach(async () => {
    claude.requests.length = 0;
    claude.rejected.length = 0;
    openaiUp.requests.length = 0;
    ({ gw, key, tokenId } = await startClaudeTestGateway(['claude-x']));
  });
  afterEach(async () => {
    expect(claude.rejected.map((r) => r.reason)).to.deep.equal([]);
    await gw.stop();
  });

  const claudeChannel = (mode = 'ok', fields: Record<string, unknown> = {}) =>
    gw.channel({
      name: `claude-${mode}`,
      type: 'anthropic',
      base_url: claude.baseUrl('c1', mode),
      models: ['claude-x'],
      ...fields,
    });

  it('a whole chat answer: headers, translated body, usage, billing', async () => {
    await claudeChannel();
    const r = await client().chat.completions.create({
      model: 'claude-x',
      messages: [{ role: 'system', content: 'Be brief.' }, ...messages],
      temperature: 0.3,
      user: 'end-user-7',
      seed: 42,
    });
    expect(r.choices[0]!.message.content).to.equal('Hello from c1 as claude-x');
    expect(r.choices[0]!.finish_reason).to.equal('stop');
    expect(r.usage).to.deep.include({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    const sent = claudeRequests()[0]!;
    expect(sent.headers).to.include({
      'x-api-key': 'sk-upstream-test-key',
      'anthropic-version': '2023-06-01',
    });
    expect(sent.headers).not.to.have.property('authorization');
    expect(sent.body).to.deep.equal({
      model: 'claude-x',
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      max_tokens: 4096,
      temperature: 0.3,
      metadata: { user_id: 'end-user-7' },
    });
    const [row] = await rows(1);
    // 10 input × 1 + 5 output × 2.
    expect(row).to.include({
      prompt_tokens: 10,
      completion_tokens: 5,
      cached_tokens: 0,
      quota: 20,
      status: 200,
    });
  });

  it('settings: anthropic-version, anthropic-beta and default max_tokens per channel; bad settings refused', async () => {
    await claudeChannel('ok', {
      settings: {
        anthropic_version: '2023-01-01',
        anthropic_beta: ['prompt-caching-2024-07-31'],
        default_max_tokens: 321,
      },
    });
    await client().chat.completions.create({ model: 'claude-x', messages });
    const sent = claudeRequests()[0]!;
    expect(sent.headers).to.include({
      'anthropic-version': '2023-01-01',
      'anthropic-beta': 'prompt-caching-2024-07-31',
    });
    expect(sent.body.max_tokens).to.equal(321);
    const bad = await gw.admin('POST', '/api/channels', {
      name: 'bad',
      type: 'anthropic',
      key: 'k',
      base_url: claude.baseUrl('c1'),
      models: ['claude-x'],
      settings: { thinking_budgets: { high: 5 } },
    });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.param).to.equal('settings.thinking_budgets.high');
  });

  it('a stream: chunks, the usage chunk, billing from message_start and message_delta', async () => {
    await claudeChannel('cache');
    const stream = await client().chat.completions.create({
      model: 'claude-x',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: any;
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    expect(text).to.equal('Hello from c1 as claude-x');
    expect(finish).to.equal('stop');
    expect(usage).to.deep.include({ prompt_tokens: 60, completion_tokens: 5, total_tokens: 65 });
    expect(usage.prompt_tokens_details).to.deep.equal({ cached_tokens: 30 });
    const [row] = await rows(1);
    // 10 input × 1 + 30 cache reads × 0.5 + 20 cache writes × 1.5 + 5 output × 2 = 65.
    expect(row).to.include({
      prompt_tokens: 60,
      completion_tokens: 5,
      cached_tokens: 30,
      quota: 65,
      stream: true,
    });
  });

  it('usage with cache tokens on a whole answer, billed at the cache prices', async () => {
    await claudeChannel('cache');
    const r = await client().chat.completions.create({ model: 'claude-x', messages });
    expect(r.usage).to.deep.include({ prompt_tokens: 60, completion_tokens: 5 });
    expect(r.usage!.prompt_tokens_details).to.deep.equal({
      cached_tokens: FAKE_CACHE_USAGE.cache_read_input_tokens,
    });
    const [row] = await rows(1);
    expect(row).to.include({ prompt_tokens: 60, cached_tokens: 30, quota: 65 });
  });

  it('a tool call round trip, whole', async () => {
    await claudeChannel();
    const first = await client().chat.completions.create({
      model: 'claude-x',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weather],
      tool_choice: 'required',
    });
    const call = first.choices[0]!.message.tool_calls![0]! as any;
    expect(first.choices[0]!.finish_reason).to.equal('tool_calls');
    expect(call.function).to.deep.equal({ name: 'weather', arguments: '{"city":"Paris"}' });
    const second = await client().chat.completions.create({
      model: 'claude-x',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      ],
      tools: [weather],
    });
    expect(second.choices[0]!.message.content).to.equal('Tool said: sunny');
    expect(claudeRequests()[1]!.body.messages[2]).to.deep.equal({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: call.id, content: [{ type: 'text', text: 'sunny' }] }],
    });
    expect((await rows(2)).map((r) => r.quota)).to.deep.equal([20, 20]);
  });

  it('a tool call round trip, streamed', async () => {
    await claudeChannel();
    const stream = await client().chat.completions.create({
      model: 'claude-x',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weather],
      stream: true,
    });
    const calls: { id?: string; name?: string; args: string }[] = [];
    let finish: string | null = null;
    for await (const c of stream) {
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
        calls[tc.index] ??= { args: '' };
        if (tc.id) calls[tc.index]!.id = tc.id;
        if (tc.function?.name) calls[tc.index]!.name = tc.function.name;
        calls[tc.index]!.args += tc.function?.arguments ?? '';
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).to.equal('tool_calls');
    expect(calls).to.have.length(1);
    expect(calls[0]).to.include({ name: 'weather', args: '{"city":"Paris"}' });
    const back = await client().chat.completions.create({
      model: 'claude-x',
      stream: true,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: calls[0]!.id!, type: 'function', function: { name: 'weather', arguments: calls[0]!.args } },
          ],
        },
        { role: 'tool', tool_call_id: calls[0]!.id!, content: 'rain' },
      ],
      tools: [weather],
    });
    let text = '';
    for await (const c of back) text += c.choices[0]?.delta.content ?? '';
    expect(text).to.equal('Tool said: rain');
  });

  it('images: a data URL as a base64 source, an https URL as a url source', async () => {
    await claudeChannel();
    await client().chat.completions.create({
      model: 'claude-x',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(claudeRequests()[0]!.body.messages[0].content.slice(1)).to.deep.equal([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('response_format json_schema comes back as JSON content', async () => {
    await claudeChannel();
    const r = await client().chat.completions.create({
      model: 'claude-x',
      messages,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'reply', schema: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    });
    expect(JSON.parse(r.choices[0]!.message.content!)).to.deep.equal({ city: 'Paris' });
    expect(r.choices[0]!.finish_reason).to.equal('stop');
  });

  describe('errors', () => {
    /** A Claude channel in `mode` in front of an OpenAI-compatible one (lower priority). */
    async function inFront(mode: string) {
      const c = await claudeChannel(mode, { priority: 10 });
      await gw.channel({
        name: 'openai',
        base_url: openaiUp.baseUrl('o1'),
        models: ['claude-x'],
        priority: 0,
      });
      return c;
    }
    const status = async (id: number) => (await gw.admin('GET', `/api/channels/${id}`)).body.data.status;

    for (const mode of ['529', '429']) {
      it(`${mode} (${mode === '529' ? 'overloaded_error' : 'rate_limit_error'}): retried on the OpenAI channel, the Claude channel cooled`, async () => {
        await inFront(mode);
        const r = await client().chat.completions.create({ model: 'claude-x', messages });
        expect(r.choices[0]!.message.content).to.equal('Hello from o1 as claude-x');
        await client().chat.completions.create({ model: 'claude-x', messages });
        // Cooled: the second request went straight to the OpenAI channel.
        expect(claudeRequests()).to.have.length(1);
        expect(openaiUp.requests).to.have.length(2);
        const [a, b] = await rows(2);
        expect(a).to.include({ retries: 1, quota: 20 });
        expect(b).to.include({ retries: 0 });
      });
    }

    it('500 (api_error): retried on the OpenAI channel (failover from Claude to OpenAI)', async () => {
      await inFront('500');
      const stream = await client().chat.completions.create({ model: 'claude-x', messages, stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text).to.equal('Hello from o1 as claude-x');
      expect(claudeRequests()).to.have.length(1);
    });

    for (const mode of ['401', '403', 'nocredit']) {
      it(`${mode}: the account is unusable, the channel auto-disabled, the request served elsewhere`, async () => {
        const c = await inFront(mode);
        const r = await client().chat.completions.create({ model: 'claude-x', messages });
        expect(r.choices[0]!.message.content).to.equal('Hello from o1 as claude-x');
        await waitFor(async () => (await status(c.id)) === 'auto_disabled', 3000, 'auto-disabled');
      });
    }

    it('400 (invalid_request_error): the client’s, not retried, the channel untouched', async () => {
      const c = await inFront('400');
      const err = await apiError(client().chat.completions.create({ model: 'claude-x', messages }));
      expect(err.status).to.equal(400);
      // The gateway does not pass on the upstream's words (they may quote the channel's key).
      expect(err.message).to.contain('refused the request as invalid (HTTP 400)');
      expect(openaiUp.requests).to.have.length(0);
      expect(await status(c.id)).to.equal('enabled');
      const [row] = await rows(1);
      expect(row).to.include({ status: 400, quota: 0 });
    });

    it('a request Claude cannot take (n > 1) is a 400 before any upstream call', async () => {
      await claudeChannel();
      const err = await apiError(client().chat.completions.create({ model: 'claude-x', messages, n: 2 }));
      expect(err.status).to.equal(400);
      expect(err.message).to.contain('n must be 1');
      expect(claudeRequests()).to.have.length(0);
    });

    it('a mid-stream error event ends the stream with the gateway’s error event; what came is billed', async () => {
      await claudeChannel('streamerror');
      const stream = await client().chat.completions.create({
        model: 'claude-x',
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      const err = await apiError(
        (async () => {
          for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
        })(),
      );
      expect(text).to.equal('Hello ');
      expect(err.message).to.contain('broke off');
      const [row] = await rows(1);
      // Input from message_start (10 × 1); the output never came (no message_delta): "Hello " estimated at 4 characters a token (× 2).
      const out = Math.ceil('Hello '.length / CHARS_PER_TOKEN_ESTIMATE);
      expect(row).to.include({ prompt_tokens: 10, completion_tokens: out, quota: 10 + 2 * out });
    });
  });

  it("the seeded catalogue's Claude prices carry cache writes, and they are charged", async () => {
    await gw.stop();
    gw = await startTestGateway({ env: { SEED_PRICES: 'true', ALLOW_UNPRICED_MODELS: 'false' } });
    const token = await gw.token();
    key = token.key;
    tokenId = token.id;
    const price = (await gw.admin('GET', '/api/prices')).body.data.find(
      (p: any) => p.model === 'claude-sonnet-4-5',
    );
    expect(price).to.include({ input: 3, output: 15, cached_input: 0.3, cache_write_input: 3.75 });
    await gw.channel({
      name: 'c',
      type: 'anthropic',
      base_url: claude.baseUrl('c1', 'cache'),
      models: ['claude-sonnet-4-5'],
    });
    await client().chat.completions.create({ model: 'claude-sonnet-4-5', messages });
    const [row] = await rows(1);
    // $3 × 10 + $0.30 × 30 + $3.75 × 20 + $15 × 5 = $189 per 1M → 94.5 units → 95.
    expect(row).to.include({ prompt_tokens: 60, cached_tokens: 30, cache_write_tokens: 20, quota: 95 });
    // The row alone explains its charge, cache writes and their price included.
    const { charge } = (await gw.admin('GET', `/api/logs/${row.id}`)).body.data;
    expect(charge).to.deep.include({
      quota: 95,
      computed_quota: 95,
      price_per_1m: { input: 3, output: 15, cached_input: 0.3, cache_write_input: 3.75 },
      tokens: { prompt: 60, cached: 30, cache_write: 20, uncached_prompt: 10, completion: 5 },
    });
    expect(charge.explanation).to.contain('20 written to cache × $3.75').and.contain('= 95');
  });

  it('a channel test goes through the same translation (and reports a refused key)', async () => {
    const ok = await claudeChannel();
    const passed = await gw.admin('POST', `/api/channels/${ok.id}/test`, {});
    expect(passed.status).to.equal(200);
    expect(passed.body.data).to.include({ ok: true, status: 200 });
    expect(claudeRequests()[0]!.body).to.include({ model: 'claude-x', max_tokens: 1 });
    const refused = await claudeChannel('401');
    const failed = await gw.admin('POST', `/api/channels/${refused.id}/test`, {});
    expect(failed.body.data).to.include({ ok: false, status: 401 });
  });

  it('lists the upstream models through the channel API', async () => {
    const c = await claudeChannel();
    const r = await gw.admin('GET', `/api/channels/${c.id}/upstream-models`);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(JSON.stringify(r.body)).to.contain('claude-c1-a');
    const sent = claude.requests.find((q) => q.path === '/v1/models')!;
    expect(sent.headers).to.include({ 'x-api-key': 'sk-upstream-test-key' });
  });
});
