import Anthropic from '@anthropic-ai/sdk';
import { expect } from 'chai';
import { anthropicApiError as apiError, toolResultTurn } from '../helpers/anthropic.js';
import {
  FAKE_CACHE_USAGE,
  FAKE_USAGE,
  startFakeAnthropic,
  type FakeAnthropic,
} from '../helpers/fake-anthropic.js';

/**
 * The fake Anthropic upstream, checked with the official SDK as its client: what the SDK sends is
 * what the real API takes, and what the fake answers is what the SDK reads. If Anthropic's wire
 * format and the fake drift apart, these fail.
 */
describe('fake Anthropic upstream, checked with @anthropic-ai/sdk', function () {
  this.timeout(10_000);
  let fake: FakeAnthropic;
  const client = (mode = 'ok', label = 'x') =>
    new Anthropic({
      apiKey: 'sk-ant-fake',
      baseURL: fake.baseUrl(label, mode),
      maxRetries: 0,
      timeout: 5000,
    });

  before(async () => {
    fake = await startFakeAnthropic();
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.rejected.length = 0;
  });

  it('takes what the SDK sends and answers a message the SDK reads', async () => {
    const msg = await client('cache').messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'hi' }],
      metadata: { user_id: 'u-1' },
    });
    expect(fake.rejected).to.deep.equal([]);
    expect(fake.requests[0]!.headers).to.include({
      authorization: 'Bearer sk-ant-fake',
      'anthropic-version': '2026-10-21',
    });
    expect(msg.type).to.equal('message');
    expect(msg.content).to.deep.equal([{ type: 'text', text: 'Hello from x as claude-sonnet-4-6' }]);
    expect(msg.stop_reason).to.equal('end_turn');
    expect(msg.usage).to.deep.include({ ...FAKE_USAGE, ...FAKE_CACHE_USAGE });
  });

  it('streams the documented event sequence (messages.stream reassembles it)', async () => {
    const stream = client().messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 2000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'hi' }],
    });
    const events: string[] = [];
    let text = '';
    stream.on('streamEvent', (e) => events.push(e.type));
    stream.on('text', (t) => (text += t));
    const msg = await stream.finalMessage();
    expect(text).to.equal('Hello from x as claude-sonnet-4-6');
    expect(msg.content.map((b) => b.type)).to.deep.equal(['thinking', 'text']);
    expect(msg.usage).to.deep.include(FAKE_USAGE);
    expect(events[0]).to.equal('message_start');
    expect(events.slice(-2)).to.deep.equal(['message_delta', 'message_stop']);
  });

  it('tools: a tool_use answer, streamed input JSON, and a tool_result round trip', async () => {
    const tools = [
      {
        name: 'weather',
        description: 'Weather of a city',
        input_schema: {
          type: 'object' as const,
          properties: { city: { type: 'string' } },
          required: ['city'],
        },
      },
    ];
    const first = await client().messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      tools,
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: 'weather in Paris?' }],
    });
    const use = first.content.find((b) => b.type === 'tool_use');
    expect(first.stop_reason).to.equal('tool_use');
    expect(use).to.deep.include({ name: 'weather', input: { city: 'Paris' } });
    const streamed = await client()
      .messages.stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        tools,
        messages: [{ role: 'user', content: 'weather?' }],
      })
      .finalMessage();
    expect(streamed.content[0]).to.deep.include({ type: 'tool_use', input: { city: 'Paris' } });
    const second = await client().messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      tools,
      messages: toolResultTurn('weather in Paris?', first.content, 'sunny'),
    });
    expect(second.content).to.deep.equal([{ type: 'text', text: 'Tool said: sunny' }]);
    expect(fake.rejected).to.deep.equal([]);
  });

  it('errors come back as the SDK’s APIError types with the request id', async () => {
    const params = {
      model: 'claude-sonnet-4-6',
      max_tokens: 10,
      messages: [{ role: 'user' as const, content: 'hi' }],
    };
    const cases: [string, number, unknown, string][] = [
      ['400', 400, Anthropic.BadRequestError, 'invalid_request_error'],
      ['401', 401, Anthropic.AuthenticationError, 'authentication_error'],
      ['403', 403, Anthropic.PermissionDeniedError, 'permission_error'],
      ['429', 429, Anthropic.RateLimitError, 'rate_limit_error'],
      ['500', 500, Anthropic.InternalServerError, 'api_error'],
      ['529', 529, Anthropic.InternalServerError, 'overloaded_error'],
    ];
    for (const [mode, status, cls, type] of cases) {
      const err = await apiError(client(mode).messages.create(params));
      expect(err.status, mode).to.equal(status);
      expect(err, mode).to.be.instanceOf(cls as never);
      expect((err.error as any).error.type, mode).to.equal(type);
      expect(err.requestID, mode).to.match(/^req_fake_/);
    }
    const rl = await apiError(client('429').messages.create(params));
    expect(rl.headers?.get('retry-after')).to.equal('1');
  });

  it('a mid-stream error event fails the SDK stream', async () => {
    const stream = client('streamerror').messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const err = await apiError(stream.finalMessage());
    expect(String(err.message)).to.contain('Overloaded');
  });

  it('refuses what the real API refuses', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ model: 'm', messages: [{ role: 'user', content: 'x' }] }, /max_tokens/],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'assistant', content: 'x' }] }, /alternate/],
      [
        {
          model: 'm',
          max_tokens: 5,
          messages: [
            { role: 'user', content: 'a' },
            { role: 'user', content: 'b' },
          ],
        },
        /alternate/,
      ],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, /role/],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], n: 1 }, /n: Extra inputs/],
      [
        { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], stream_options: {} },
        /Extra inputs/,
      ],
      [
        { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] },
        /non-empty/,
      ],
      [
        {
          model: 'm',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ type: 'function', function: { name: 'f' } }],
        },
        /tools\.0/,
      ],
      [
        {
          model: 'm',
          max_tokens: 5,
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x' } }] }],
        },
        /unknown content block/,
      ],
      [
        {
          model: 'm',
          max_tokens: 5,
          messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }] }],
        },
        /answers no tool_use/,
      ],
      [
        {
          model: 'm',
          max_tokens: 1000,
          thinking: { type: 'enabled', budget_tokens: 1024 },
          messages: [{ role: 'user', content: 'x' }],
        },
        /greater than/,
      ],
    ];
    for (const [body, reason] of cases) {
      const err = await apiError(client().messages.create(body as never));
      expect(err, JSON.stringify(body)).to.be.instanceOf(Anthropic.BadRequestError);
      expect(err.message, JSON.stringify(body)).to.match(reason);
    }
    const withXApiKey = await fetch(`${fake.baseUrl('x')}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'sk', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(withXApiKey.status).to.equal(200);
    const noKey = await fetch(`${fake.baseUrl('x')}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(noKey.status).to.equal(401);
    const noVersion = await fetch(`${fake.baseUrl('x')}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'k', 'anthropic-version': '2022-01-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(noVersion.status).to.equal(400);
  });

  it('lists models and counts tokens as the SDK expects', async () => {
    const models = [];
    for await (const m of client().models.list()) models.push(m.id);
    expect(models).to.deep.equal(['claude-x-a', 'claude-x-b']);
    const count = await client().messages.countTokens({
      model: 'm',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(count.input_tokens).to.be.a('number').greaterThan(4);
  });
});
