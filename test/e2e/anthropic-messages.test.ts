import Anthropic from '@anthropic-ai/sdk';
import { expect } from 'chai';
import {
  anthropicApiError as apiError,
  startClaudeTestGateway,
  toolResultTurn,
} from '../helpers/anthropic.js';
import { CHARS_PER_TOKEN_ESTIMATE } from '../../lib/billing/token-counter.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import type { TestGateway } from '../helpers/gateway.js';
import { usageRows } from '../helpers/usage.js';

/**
 * Anthropic's official SDK → the gateway's `/v1/messages` → an OpenAI-compatible channel (bridged
 * through chat) and a Claude channel (passed through), billed exactly.
 */
describe('/v1/messages with @anthropic-ai/sdk', function () {
  this.timeout(20_000);
  let claude: FakeAnthropic;
  let openaiUp: FakeUpstream;
  let gw: TestGateway;
  let key: string;
  let tokenId: number;

  const sdk = (apiKey = key) => new Anthropic({ apiKey, baseURL: gw.url, maxRetries: 0, timeout: 10_000 });
  const hi = [{ role: 'user' as const, content: 'hi' }];
  const tools = [
    {
      name: 'weather',
      description: 'Weather of a city',
      input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
    },
  ];

  /** The usage rows of the test's token, oldest first, once `n` are written. */
  const rows = async (n: number) => (await usageRows(gw, tokenId, n)).reverse();

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
    ({ gw, key, tokenId } = await startClaudeTestGateway([
      'gpt-4o',
      'claude-x',
      'claude-400',
      'claude-529',
      'no-such-channel',
    ]));
  });
  afterEach(async () => {
    expect(claude.rejected.map((r) => r.reason)).to.deep.equal([]);
    await gw.stop();
  });

  describe('to an OpenAI-compatible channel (bridged)', () => {
    beforeEach(async () => {
      await gw.channel({ name: 'o', base_url: openaiUp.baseUrl('o1'), models: ['gpt-4o'] });
    });

    it('a whole message: translated request, Anthropic answer, usage, billing', async () => {
      const msg = await sdk().messages.create({
        model: 'gpt-4o',
        max_tokens: 50,
        system: 'Be brief.',
        messages: hi,
        stop_sequences: ['END'],
        metadata: { user_id: 'u-9' },
      });
      expect(msg).to.deep.include({
        type: 'message',
        role: 'assistant',
        model: 'gpt-4o',
        content: [{ type: 'text', text: 'Hello from o1 as gpt-4o' }],
        stop_reason: 'end_turn',
      });
      expect(msg.id).to.match(/^msg_/);
      expect(msg.usage).to.deep.include({ input_tokens: 10, output_tokens: 5 });
      expect(openaiUp.requests[0]!.body).to.deep.equal({
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
        max_tokens: 50,
        stop: ['END'],
        user: 'u-9',
      });
      const [row] = await rows(1);
      expect(row).to.include({ prompt_tokens: 10, completion_tokens: 5, quota: 20, status: 200 });
    });

    it('a stream via messages.stream: Anthropic events, usage in message_delta, billing', async () => {
      const stream = sdk().messages.stream({ model: 'gpt-4o', max_tokens: 50, messages: hi });
      const events: string[] = [];
      let text = '';
      stream.on('streamEvent', (e) => events.push(e.type));
      stream.on('text', (t) => (text += t));
      const msg = await stream.finalMessage();
      expect(text).to.equal('Hello from o1 as gpt-4o');
      expect(msg.usage).to.deep.include({ input_tokens: 10, output_tokens: 5 });
      expect(msg.stop_reason).to.equal('end_turn');
      expect(events[0]).to.equal('message_start');
      expect(events.slice(-3)).to.deep.equal(['content_block_stop', 'message_delta', 'message_stop']);
      const [row] = await rows(1);
      expect(row).to.include({ prompt_tokens: 10, completion_tokens: 5, quota: 20, stream: true });
    });

    it('tools: tool_use from an OpenAI tool call, and a tool_result round trip (whole and streamed)', async () => {
      const first = await sdk().messages.create({
        model: 'gpt-4o',
        max_tokens: 50,
        tools,
        tool_choice: { type: 'any' },
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      });
      expect(first.stop_reason).to.equal('tool_use');
      const use = first.content.find((b) => b.type === 'tool_use')!;
      expect(use).to.deep.include({ type: 'tool_use', name: 'weather', input: { city: 'Paris' } });
      expect(openaiUp.requests[0]!.body).to.deep.include({
        tools: [
          {
            type: 'function',
            function: {
              name: 'weather',
              description: 'Weather of a city',
              parameters: tools[0]!.input_schema,
            },
          },
        ],
        tool_choice: 'required',
      });
      const streamed = await sdk()
        .messages.stream({
          model: 'gpt-4o',
          max_tokens: 50,
          tools,
          messages: [{ role: 'user', content: 'Weather?' }],
        })
        .finalMessage();
      expect(streamed.stop_reason).to.equal('tool_use');
      expect(streamed.content).to.have.length(1);
      expect(streamed.content[0]).to.deep.include({
        type: 'tool_use',
        name: 'weather',
        input: { city: 'Paris' },
      });
      const second = await sdk().messages.create({
        model: 'gpt-4o',
        max_tokens: 50,
        tools,
        messages: toolResultTurn('Weather in Paris?', first.content, 'sunny'),
      });
      expect(second.content).to.deep.equal([
        { type: 'text', text: 'Hello from o1 as gpt-4o; the tool said sunny' },
      ]);
      expect((openaiUp.requests[2]!.body.messages as unknown[]).slice(1)).to.deep.equal([
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_fake_1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_fake_1', content: 'sunny' },
      ]);
      expect((await rows(3)).map((r) => r.quota)).to.deep.equal([20, 20, 20]);
    });

    it('errors in Anthropic’s shape with the gateway’s request id', async () => {
      const noChannel = await apiError(
        sdk().messages.create({ model: 'no-such-channel', max_tokens: 5, messages: hi }),
      );
      expect(noChannel.status).to.equal(503);
      expect(noChannel.error).to.deep.include({ type: 'error' });
      expect((noChannel.error as any).error.type).to.equal('api_error');
      expect(noChannel.requestID).to.be.a('string').and.not.equal('');
      expect((noChannel.error as any).error.message).to.contain(noChannel.requestID!);

      const bad = await apiError(sdk().messages.create({ model: 'gpt-4o', messages: hi } as never));
      expect(bad).to.be.instanceOf(Anthropic.BadRequestError);
      expect((bad.error as any).error).to.deep.include({ type: 'invalid_request_error' });
      expect(bad.message).to.contain('max_tokens');

      const auth = await apiError(
        sdk('sk-not-a-token').messages.create({ model: 'gpt-4o', max_tokens: 5, messages: hi }),
      );
      expect(auth).to.be.instanceOf(Anthropic.AuthenticationError);
      expect((auth.error as any).error.type).to.equal('authentication_error');

      await gw.channel({ name: 'bad', base_url: openaiUp.baseUrl('b', '400'), models: ['gpt-4o-400'] });
      await gw.admin('PUT', '/api/prices/gpt-4o-400', { input: 2, output: 4 });
      const upstream = await apiError(
        sdk().messages.create({ model: 'gpt-4o-400', max_tokens: 5, messages: hi }),
      );
      expect(upstream).to.be.instanceOf(Anthropic.BadRequestError);
      // The gateway does not pass on the upstream's words (they may quote the channel's key).
      expect(upstream.message).to.contain('refused the request as invalid (HTTP 400)');
    });

    it('the token also works as x-api-key (as Claude Code sends it)', async () => {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', max_tokens: 5, messages: hi }),
      });
      expect(res.status).to.equal(200);
      expect(res.headers.get('request-id')).to.be.a('string');
      expect(((await res.json()) as any).content[0].text).to.equal('Hello from o1 as gpt-4o');
    });

    it('a field of the wrong type that slips past validation is a 400, never a 500 (messages, count_tokens, responses)', async () => {
      const trap = { toString: 1, valueOf: 1 };
      const post = (path: string, body: unknown) =>
        fetch(`${gw.url}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'anthropic-version': '2023-06-01',
          },
          body: JSON.stringify(body),
        });
      const content = [{ role: 'user', content: [{ type: 'text', text: trap }] }];
      for (const [path, body] of [
        ['/v1/messages', { model: 'gpt-4o', max_tokens: 5, messages: content }],
        ['/v1/messages/count_tokens', { model: 'gpt-4o', messages: content }],
        ['/v1/responses', { model: 'gpt-4o', input: 'hi', reasoning: { effort: trap } }],
      ] as const) {
        const res = await post(path, body);
        expect(res.status, path).to.be.within(400, 499);
      }
    });

    it('count_tokens is estimated locally (no Claude channel serves the model)', async () => {
      const count = await sdk().messages.countTokens({ model: 'gpt-4o', messages: hi, system: 'Be brief.' });
      expect(count.input_tokens).to.be.a('number').within(3, 30);
      expect(openaiUp.requests).to.have.length(0);
      const bad = await apiError(sdk().messages.countTokens({ model: 'gpt-4o', messages: [] }));
      expect(bad).to.be.instanceOf(Anthropic.BadRequestError);
    });
  });

  describe('to a Claude channel (passed through)', () => {
    const claudeChannel = (mode = 'ok', fields: Record<string, unknown> = {}) =>
      gw.channel({
        name: `c-${mode}`,
        type: 'anthropic',
        base_url: claude.baseUrl('c1', mode),
        models: ['claude-x'],
        ...fields,
      });

    it('the body goes unchanged apart from the model, the key is swapped, the answer comes back as it was', async () => {
      await claudeChannel('cache', { model_mapping: { 'claude-x': 'claude-real-1' } });
      const params = {
        model: 'claude-x',
        max_tokens: 2000,
        system: [{ type: 'text' as const, text: 'Be brief.', cache_control: { type: 'ephemeral' as const } }],
        messages: hi,
        thinking: { type: 'enabled' as const, budget_tokens: 1024 },
        top_k: 5,
      };
      const msg = await sdk().messages.create(params);
      const sent = claude.requests[0]!;
      expect(sent.body).to.deep.equal({ ...params, model: 'claude-real-1' });
      expect(sent.headers).to.include({
        'x-api-key': 'sk-upstream-test-key',
        'anthropic-version': '2023-06-01',
      });
      expect(sent.headers.authorization).to.equal(undefined);
      expect(msg.model).to.equal('claude-real-1');
      expect(msg.content.map((b) => b.type)).to.deep.equal(['thinking', 'text']);
      expect(msg.usage).to.deep.include({
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: 20,
        cache_read_input_tokens: 30,
      });
      const [row] = await rows(1);
      // 10 × 1 + 30 cache reads × 0.5 + 20 cache writes × 1.5 + 5 × 2.
      expect(row).to.include({ prompt_tokens: 60, cached_tokens: 30, completion_tokens: 5, quota: 65 });
    });

    it("the client's anthropic-beta flags (as Claude Code sends them) reach the Claude channel with the channel's own", async () => {
      // A model of its own, so no other channel of this suite can take the request.
      expect((await gw.admin('PUT', '/api/prices/claude-beta', { input: 1, output: 2 })).status).to.equal(
        200,
      );
      await claudeChannel('ok', {
        name: 'c-beta',
        models: ['claude-beta'],
        settings: { anthropic_beta: ['prompt-caching-2024-07-31'] },
      });
      const before = claude.requests.length;
      await sdk().beta.messages.create({
        model: 'claude-beta',
        max_tokens: 100,
        messages: hi,
        betas: ['interleaved-thinking-2025-05-14', 'fine-grained-tool-streaming-2025-05-14'],
      });
      const sent = claude.requests[before]!;
      expect(String(sent.headers['anthropic-beta']).split(',')).to.have.members([
        'prompt-caching-2024-07-31',
        'interleaved-thinking-2025-05-14',
        'fine-grained-tool-streaming-2025-05-14',
      ]);
      // Only the flags: the client's credentials and other headers are never forwarded.
      expect(sent.headers['x-api-key']).to.equal('sk-upstream-test-key');
    });

    it('a stream via messages.stream, events as Claude sent them, billed from message_start and message_delta', async () => {
      await claudeChannel('cache');
      const stream = sdk().messages.stream({ model: 'claude-x', max_tokens: 50, messages: hi });
      const events: string[] = [];
      stream.on('streamEvent', (e) => events.push(e.type));
      const msg = await stream.finalMessage();
      expect(msg.content).to.have.length(1);
      expect(msg.content[0]).to.deep.include({ type: 'text', text: 'Hello from c1 as claude-x' });
      // The bytes are Claude's own: its keep-alive pings reach the client too.
      const raw = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-x', max_tokens: 50, messages: hi, stream: true }),
      });
      const text = await raw.text();
      expect(text).to.contain('event: ping\ndata: {"type":"ping"}\n\n');
      expect(text.trimEnd().endsWith('event: message_stop\ndata: {"type":"message_stop"}')).to.equal(true);
      expect(events.slice(-2)).to.deep.equal(['message_delta', 'message_stop']);
      expect(msg.usage).to.deep.include({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 30 });
      const [row] = await rows(1);
      expect(row).to.include({ prompt_tokens: 60, completion_tokens: 5, quota: 65, stream: true });
      await rows(2);
    });

    it('tools: tool_use and a tool_result round trip', async () => {
      await claudeChannel();
      const first = await sdk().messages.create({
        model: 'claude-x',
        max_tokens: 50,
        tools,
        messages: [{ role: 'user', content: 'Weather?' }],
      });
      const use = first.content.find((b) => b.type === 'tool_use')!;
      expect(use).to.deep.include({ name: 'weather', input: { city: 'Paris' } });
      const second = await sdk()
        .messages.stream({
          model: 'claude-x',
          max_tokens: 50,
          tools,
          messages: toolResultTurn('Weather?', first.content, 'cloudy'),
        })
        .finalMessage();
      expect(second.content[0]).to.deep.include({ type: 'text', text: 'Tool said: cloudy' });
    });

    it('errors: the upstream’s 400 is the client’s; 529 everywhere is overloaded_error; a mid-stream error is an error event', async () => {
      await gw.channel({
        name: 'c400',
        type: 'anthropic',
        base_url: claude.baseUrl('c1', '400'),
        models: ['claude-400'],
      });
      await gw.channel({
        name: 'c529',
        type: 'anthropic',
        base_url: claude.baseUrl('c1', '529'),
        models: ['claude-529'],
      });
      await gw.channel({
        name: 'cerr',
        type: 'anthropic',
        base_url: claude.baseUrl('c1', 'streamerror'),
        models: ['claude-x'],
      });
      const bad = await apiError(sdk().messages.create({ model: 'claude-400', max_tokens: 5, messages: hi }));
      expect(bad).to.be.instanceOf(Anthropic.BadRequestError);
      // The gateway does not pass on the upstream's words (they may quote the channel's key).
      expect(bad.message).to.contain('refused the request as invalid (HTTP 400)');
      expect(bad.requestID).to.be.a('string');
      const busy = await apiError(
        sdk().messages.create({ model: 'claude-529', max_tokens: 5, messages: hi }),
      );
      expect(busy.status).to.equal(529);
      expect((busy.error as any).error.type).to.equal('overloaded_error');
      const broken = await apiError(
        sdk().messages.stream({ model: 'claude-x', max_tokens: 50, messages: hi }).finalMessage(),
      );
      expect(broken.message).to.contain('broke off');
      const logged = await rows(3);
      // The broken stream: input from message_start, the output never came ("Hello " estimated at 4 characters a token).
      const out = Math.ceil('Hello '.length / CHARS_PER_TOKEN_ESTIMATE);
      expect(logged.find((r) => r.stream)).to.include({
        prompt_tokens: 10,
        completion_tokens: out,
        quota: 10 + 2 * out,
      });
      expect(logged.filter((r) => !r.stream).map((r) => [r.status, r.quota])).to.deep.equal([
        [400, 0],
        [529, 0],
      ]);
    });

    it('count_tokens is passed through to the Claude channel', async () => {
      await claudeChannel();
      const body = { model: 'claude-x', messages: hi, system: 'Be brief.' };
      const count = await sdk().messages.countTokens(body);
      const direct = await new Anthropic({
        apiKey: 'k',
        baseURL: claude.baseUrl('direct'),
        maxRetries: 0,
      }).messages.countTokens(body);
      expect(count.input_tokens).to.equal(direct.input_tokens);
      const sent = claude.requests.find((r) => r.path === '/v1/messages/count_tokens')!;
      expect(sent.headers['x-api-key']).to.equal('sk-upstream-test-key');
      // Counting is free: nothing charged.
      const logs = (await gw.admin('GET', `/api/logs?token_id=${tokenId}&type=consume`)).body.data;
      expect(logs).to.have.length(0);
    });
  });
});
