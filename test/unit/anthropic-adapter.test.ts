import { expect } from 'chai';
import type { RoutedChannel } from '../../lib/cfg/routing-index.js';
import { AnthropicAdapter } from '../../lib/relay/adapters/anthropic/anthropic.adapter.js';
import {
  anthropicSettingsSchema,
  type AnthropicSettings,
} from '../../lib/relay/adapters/anthropic/anthropic-settings.js';
import {
  UpstreamStreamError,
  type AdapterRequest,
  type Endpoint,
  type StreamDecoder,
} from '../../lib/relay/adapters/provider-adapter.js';

const adapter = new AnthropicAdapter();
const channel = {
  id: 1,
  name: 'claude',
  type: 'anthropic',
  baseUrl: 'https://api.anthropic.com',
  origin: 'https://api.anthropic.com',
  basePath: '',
  apiKey: 'sk-ant-test-key',
  modelMapping: {},
  priority: 0,
  weight: 1,
  version: 1,
  timeouts: {},
} as unknown as RoutedChannel;

function req(
  body: Record<string, unknown>,
  opts: { endpoint?: Endpoint; stream?: boolean; settings?: Record<string, unknown> } = {},
): AdapterRequest<AnthropicSettings> {
  return {
    channel,
    settings: anthropicSettingsSchema.parse(opts.settings ?? {}),
    endpoint: opts.endpoint ?? 'chat',
    body: { model: 'claude-sonnet-4-5', ...body },
    stream: opts.stream ?? false,
  };
}

async function sent(body: Record<string, unknown>, opts: Parameters<typeof req>[1] = {}) {
  const p = await adapter.prepare(req(body, opts));
  return { ...p, json: JSON.parse(String(p.body)) as Record<string, any> };
}

const sse = (events: [string, unknown][]) =>
  events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join('');

/** Feeds `text` to a decoder in pieces of `size` bytes (cutting events and characters anywhere). */
function feed(d: StreamDecoder, text: string, size: number): string {
  const bytes = Buffer.from(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += size) out += String(d.push(bytes.subarray(i, i + size)));
  return out + String(d.end());
}

const chunksOf = (out: string) =>
  out
    .split('\n\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)) as Record<string, any>);

describe('Anthropic adapter', () => {
  describe('OpenAI chat → Messages', () => {
    it('sends the key as x-api-key with anthropic-version and anthropic-beta from settings', async () => {
      const p = await sent({ messages: [{ role: 'user', content: 'hi' }] });
      expect(p.path).to.equal('/v1/messages');
      expect(p.headers).to.include({ 'x-api-key': 'sk-ant-test-key', 'anthropic-version': '2023-06-01' });
      expect(p.headers).not.to.have.property('authorization');
      expect(p.headers).not.to.have.property('anthropic-beta');
      const b = await sent(
        { messages: [{ role: 'user', content: 'hi' }] },
        { settings: { anthropic_version: '2024-01-01', anthropic_beta: ['a-1', 'b-2'] } },
      );
      expect(b.headers).to.include({ 'anthropic-version': '2024-01-01', 'anthropic-beta': 'a-1,b-2' });
    });

    it('hoists system and developer messages, merges same-role turns, and opens with a user turn', async () => {
      const { json } = await sent({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'assistant', content: 'Earlier answer' },
          { role: 'developer', content: [{ type: 'text', text: 'No emojis.' }] },
          { role: 'user', content: 'one' },
          { role: 'user', content: [{ type: 'text', text: 'two' }] },
        ],
      });
      expect(json.system).to.equal('Be brief.\n\nNo emojis.');
      expect(json.messages).to.deep.equal([
        { role: 'user', content: [{ type: 'text', text: '.' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Earlier answer' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'one' },
            { type: 'text', text: 'two' },
          ],
        },
      ]);
    });

    it('fills max_tokens from the client, then settings, then the model table, then a safe default', async () => {
      const m = [{ role: 'user', content: 'hi' }];
      expect((await sent({ messages: m, max_tokens: 77 })).json.max_tokens).to.equal(77);
      expect((await sent({ messages: m, max_completion_tokens: 55 })).json.max_tokens).to.equal(55);
      expect(
        (await sent({ messages: m }, { settings: { default_max_tokens: 1234 } })).json.max_tokens,
      ).to.equal(1234);
      expect((await sent({ messages: m })).json.max_tokens).to.equal(64_000);
      expect((await sent({ model: 'claude-3-5-haiku-20241022', messages: m })).json.max_tokens).to.equal(
        8192,
      );
      expect((await sent({ model: 'some-proxy-model', messages: m })).json.max_tokens).to.equal(4096);
    });

    it('images: data URLs as base64 sources, http(s) URLs as url sources', async () => {
      const { json } = await sent({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
            ],
          },
        ],
      });
      expect(json.messages[0].content).to.deep.equal([
        { type: 'text', text: 'what is this?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      ]);
    });

    it('tools, tool_choice, tool_calls → tool_use and tool messages → tool_result', async () => {
      const { json } = await sent({
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'rain' }] },
          { role: 'user', content: 'and so?' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'weather',
              description: 'Weather of a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
              strict: true,
            },
          },
        ],
        tool_choice: 'required',
        parallel_tool_calls: false,
      });
      expect(json.tools).to.deep.equal([
        {
          name: 'weather',
          description: 'Weather of a city',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ]);
      expect(json.tool_choice).to.deep.equal({ type: 'any', disable_parallel_tool_use: true });
      expect(json.messages[1].content).to.deep.equal([
        { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Rome' } },
      ]);
      expect(json.messages[2]).to.deep.equal({
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'sunny' }] },
          { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: 'rain' }] },
          { type: 'text', text: 'and so?' },
        ],
      });
      const named = await sent({
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'f' } }],
        tool_choice: { type: 'function', function: { name: 'f' } },
      });
      expect(named.json.tool_choice).to.deep.equal({ type: 'tool', name: 'f' });
      expect(named.json.tools[0].input_schema).to.deep.equal({ type: 'object', properties: {} });
      for (const [choice, want] of [
        ['auto', { type: 'auto' }],
        ['none', { type: 'none' }],
      ] as const) {
        const r = await sent({
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ type: 'function', function: { name: 'f' } }],
          tool_choice: choice,
        });
        expect(r.json.tool_choice).to.deep.equal(want);
      }
    });

    it('maps stop, temperature, top_p and user; drops fields Claude has no use for', async () => {
      const { json } = await sent({
        messages: [{ role: 'user', content: 'hi' }],
        stop: ['END', '  '],
        temperature: 1.5,
        top_p: 0.9,
        user: 'user-42',
        n: 1,
        seed: 7,
        logprobs: false,
        presence_penalty: 0.5,
        frequency_penalty: 0.1,
        stream_options: { include_usage: true },
        service_tier: 'auto',
        store: true,
      });
      expect(json).to.deep.equal({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
        max_tokens: 64_000,
        temperature: 1,
        top_p: 0.9,
        stop_sequences: ['END'],
        metadata: { user_id: 'user-42' },
      });
    });

    it('reasoning_effort becomes a thinking budget (from the settings map), without temperature', async () => {
      const { json } = await sent({
        messages: [{ role: 'user', content: 'hi' }],
        reasoning_effort: 'low',
        max_tokens: 1000,
        temperature: 0.2,
      });
      expect(json.thinking).to.deep.equal({ type: 'enabled', budget_tokens: 2048 });
      expect(json.max_tokens).to.equal(3048);
      expect(json).not.to.have.property('temperature');
      const custom = await sent(
        { messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'high' },
        { settings: { thinking_budgets: { high: 30000 } } },
      );
      expect(custom.json.thinking).to.deep.equal({ type: 'enabled', budget_tokens: 30000 });
      expect(custom.json.max_tokens).to.equal(64_000);
    });

    it('response_format json_schema is a forced tool; json_object a system instruction', async () => {
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      const { json } = await sent({
        messages: [{ role: 'user', content: 'hi' }],
        response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } },
      });
      expect(json.tools).to.deep.equal([
        { name: 'reply', description: 'Give the answer as this tool input.', input_schema: schema },
      ]);
      expect(json.tool_choice).to.deep.equal({ type: 'tool', name: 'reply' });
      const obj = await sent({
        messages: [{ role: 'user', content: 'hi' }],
        response_format: { type: 'json_object' },
      });
      expect(obj.json.system).to.match(/JSON object/);
      const withTools = await sent({
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'f' } }],
        response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } },
      });
      expect(withTools.json.system).to.contain(JSON.stringify(schema));
      expect(withTools.json.tools.map((t: any) => t.name)).to.deep.equal(['f']);
    });

    it('refuses what Claude cannot take with a clear 400', async () => {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ messages: [] }, /non-empty/],
        [{ messages: [{ role: 'system', content: 'x' }] }, /at least one user or assistant/],
        [{ messages: [{ role: 'user', content: 'x' }], n: 2 }, /n must be 1/],
        [
          { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] },
          /input_audio.*not supported/,
        ],
        [{ messages: [{ role: 'tool', content: 'x' }] }, /tool_call_id/],
        [
          {
            messages: [
              {
                role: 'assistant',
                tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
              },
            ],
          },
          /arguments is not valid JSON/,
        ],
        [
          { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] }] },
          /http\(s\)/,
        ],
      ];
      for (const [body, msg] of bad) {
        const err = await adapter.prepare(req(body)).then(
          () => undefined,
          (e: unknown) => e as { status?: number; message: string },
        );
        expect(err, JSON.stringify(body)).to.include({ status: 400 });
        expect(err!.message).to.match(msg);
      }
    });

    it('/v1/messages passes the body through with only stream added', async () => {
      const body = {
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        system: [{ type: 'text', text: 'S', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'hi' }],
        thinking: { type: 'enabled', budget_tokens: 1024 },
        some_future_field: { x: 1 },
      };
      const p = await sent(body, { endpoint: 'messages', stream: true });
      expect(p.json).to.deep.equal({ ...body, stream: true });
      expect(p.headers.accept).to.equal('text/event-stream');
    });
  });

  describe('Messages → OpenAI', () => {
    const message = (content: unknown[], stop = 'end_turn', usage: Record<string, number> = {}) =>
      Buffer.from(
        JSON.stringify({
          id: 'msg_01',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content,
          stop_reason: stop,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 5, ...usage },
        }),
      );

    it('text, thinking and tool_use blocks, usage with cache reads and writes', () => {
      const d = adapter.decode(
        req({ messages: [] }),
        message(
          [
            { type: 'thinking', thinking: 'hmm', signature: 's' },
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
          ],
          'tool_use',
          { cache_creation_input_tokens: 20, cache_read_input_tokens: 30 },
        ),
      );
      const body = JSON.parse(String(d.body));
      expect(body.object).to.equal('chat.completion');
      expect(body.choices[0]).to.deep.include({ finish_reason: 'tool_calls' });
      expect(body.choices[0].message).to.deep.equal({
        role: 'assistant',
        content: 'Let me check.',
        reasoning_content: 'hmm',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        ],
      });
      expect(body.usage).to.deep.equal({
        prompt_tokens: 60,
        completion_tokens: 5,
        total_tokens: 65,
        prompt_tokens_details: { cached_tokens: 30 },
      });
      expect(d.usage).to.deep.equal({
        promptTokens: 60,
        completionTokens: 5,
        cachedTokens: 30,
        cacheWriteTokens: 20,
      });
      expect(d.json).to.deep.equal(body);
    });

    it('maps every stop_reason', () => {
      const cases = {
        end_turn: 'stop',
        stop_sequence: 'stop',
        max_tokens: 'length',
        tool_use: 'tool_calls',
        refusal: 'content_filter',
      };
      for (const [stop, finish] of Object.entries(cases)) {
        const d = adapter.decode(req({ messages: [] }), message([{ type: 'text', text: 'x' }], stop));
        expect(JSON.parse(String(d.body)).choices[0].finish_reason, stop).to.equal(finish);
      }
    });

    it('the response_format tool comes back as JSON content with finish_reason stop', () => {
      const r = req({
        messages: [],
        response_format: { type: 'json_schema', json_schema: { name: 'reply', schema: {} } },
      });
      const d = adapter.decode(
        r,
        message([{ type: 'tool_use', id: 't', name: 'reply', input: { answer: 'yes' } }], 'tool_use'),
      );
      const body = JSON.parse(String(d.body));
      expect(body.choices[0].message).to.deep.equal({ role: 'assistant', content: '{"answer":"yes"}' });
      expect(body.choices[0].finish_reason).to.equal('stop');
    });

    it('a pass-through keeps the bytes and reads the usage', () => {
      const raw = message([{ type: 'text', text: 'x' }], 'end_turn', { cache_read_input_tokens: 4 });
      const d = adapter.decode(req({}, { endpoint: 'messages' }), raw);
      expect(d.body).to.equal(raw);
      expect(d.usage).to.deep.equal({
        promptTokens: 14,
        completionTokens: 5,
        cachedTokens: 4,
        cacheWriteTokens: 0,
      });
    });

    it('throws on an answer it cannot read', () => {
      expect(() => adapter.decode(req({ messages: [] }), Buffer.from('{"oops'))).to.throw(/not JSON/);
      expect(() => adapter.decode(req({ messages: [] }), Buffer.from('{"type":"x"}'))).to.throw(
        /not a message/,
      );
    });
  });

  describe('streams', () => {
    /** An event as Anthropic sends it: the event name is the data's type. */
    const ev = (data: { type: string } & Record<string, unknown>): [string, unknown] => [data.type, data];
    const blockStart = (index: number, content_block: Record<string, unknown>) =>
      ev({ type: 'content_block_start', index, content_block });
    const blockDelta = (index: number, delta: Record<string, unknown>) =>
      ev({ type: 'content_block_delta', index, delta });
    const blockStop = (index: number) => ev({ type: 'content_block_stop', index });
    const jsonDelta = (index: number, partial_json: string) =>
      blockDelta(index, { type: 'input_json_delta', partial_json });
    const toolStart = (index: number, id: string, name: string) =>
      blockStart(index, { type: 'tool_use', id, name, input: {} });
    /** A chat stream decoder (the options a test does not name: no usage chunk, no text kept). */
    const decoder = (
      opts: Partial<Parameters<typeof adapter.streamDecoder>[1]> = {},
      r = req({ messages: [] }, { stream: true }),
    ) => adapter.streamDecoder(r, { clientWantsUsage: false, keepText: 0, model: 'm', id: 'i', ...opts });

    const start = {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: 10,
          cache_creation_input_tokens: 20,
          cache_read_input_tokens: 30,
          output_tokens: 1,
        },
      },
    };
    const toolStream = sse([
      ev(start),
      ev({ type: 'ping' }),
      blockStart(0, { type: 'thinking', thinking: '' }),
      blockDelta(0, { type: 'thinking_delta', thinking: 'hm' }),
      blockDelta(0, { type: 'signature_delta', signature: 'x' }),
      blockStop(0),
      blockStart(1, { type: 'text', text: '' }),
      blockDelta(1, { type: 'text_delta', text: 'Héllo ' }),
      blockDelta(1, { type: 'text_delta', text: 'wörld' }),
      blockStop(1),
      toolStart(2, 'toolu_a', 'f'),
      jsonDelta(2, '{"a":'),
      jsonDelta(2, '1}'),
      blockStop(2),
      toolStart(3, 'toolu_b', 'g'),
      jsonDelta(3, '{}'),
      blockStop(3),
      ev({
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 42 },
      }),
      ev({ type: 'message_stop' }),
    ]);
    /** The usage toolStream reports, as the decoder reads it. */
    const toolStreamUsage = {
      promptTokens: 60,
      completionTokens: 42,
      cachedTokens: 30,
      cacheWriteTokens: 20,
    };

    for (const size of [1, 7, 100_000]) {
      it(`translates to chat.completion.chunk events with tool indices (pieces of ${size} bytes)`, () => {
        const d = decoder({ clientWantsUsage: true, keepText: 1000, model: 'my-claude', id: 'chatcmpl-x' });
        const out = feed(d, toolStream, size);
        expect(out.endsWith('data: [DONE]\n\n')).to.equal(true);
        const chunks = chunksOf(out);
        expect(
          chunks.every(
            (c) => c.id === 'chatcmpl-x' && c.model === 'my-claude' && c.object === 'chat.completion.chunk',
          ),
        ).to.equal(true);
        const deltas = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta);
        expect(deltas).to.deep.equal([
          { role: 'assistant', content: '' },
          { reasoning_content: 'hm' },
          { content: 'Héllo ' },
          { content: 'wörld' },
          {
            tool_calls: [
              { index: 0, id: 'toolu_a', type: 'function', function: { name: 'f', arguments: '' } },
            ],
          },
          { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] },
          { tool_calls: [{ index: 0, function: { arguments: '1}' } }] },
          {
            tool_calls: [
              { index: 1, id: 'toolu_b', type: 'function', function: { name: 'g', arguments: '' } },
            ],
          },
          { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
          {},
        ]);
        expect(chunks.at(-2)!.choices[0].finish_reason).to.equal('tool_calls');
        expect(chunks.at(-1)).to.deep.include({ choices: [] });
        expect(chunks.at(-1)!.usage).to.deep.equal({
          prompt_tokens: 60,
          completion_tokens: 42,
          total_tokens: 102,
          prompt_tokens_details: { cached_tokens: 30 },
        });
        expect(d.usage).to.deep.equal(toolStreamUsage);
        expect(d.delivered).to.contain('{"content":"Héllo "}');
      });
    }

    it('no usage chunk unless the client asked', () => {
      const d = decoder();
      const out = feed(d, toolStream, 50);
      expect(chunksOf(out).some((c) => c.usage)).to.equal(false);
      expect(d.delivered).to.equal('');
      expect(d.usage?.completionTokens).to.equal(42);
    });

    it('a mid-stream error event throws UpstreamStreamError after the events before it are sent', () => {
      const text =
        sse([ev(start)]) +
        sse([ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })]);
      const d = decoder();
      const first = String(d.push(Buffer.from(text)));
      expect(chunksOf(first)).to.have.length(1);
      let err: unknown;
      try {
        d.end();
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(UpstreamStreamError);
      expect((err as UpstreamStreamError).info).to.include({
        type: 'overloaded_error',
        kind: 'rate_limited',
        message: 'Overloaded',
      });
      expect(d.usage?.promptTokens).to.equal(60);
    });

    it('a stream that ends before message_stop is an error, not a normal end', () => {
      const d = decoder();
      d.push(Buffer.from(sse([ev(start)])));
      expect(() => d.end()).to.throw(UpstreamStreamError, /before message_stop/);
    });

    it('a stream cut before message_delta bills its input counts and an estimate of the delivered text', () => {
      const d = decoder({ keepText: 1000 });
      d.push(
        Buffer.from(
          sse([
            ev(start),
            blockStart(0, { type: 'text', text: '' }),
            blockDelta(0, { type: 'text_delta', text: 'one two three four five six' }),
          ]),
        ),
      );
      expect(() => d.end()).to.throw(UpstreamStreamError);
      expect(d.usage).to.deep.include({ promptTokens: 60, cachedTokens: 30, cacheWriteTokens: 20 });
      // 27 characters at 4 a token.
      expect(d.usage!.completionTokens).to.equal(7);
    });

    it('the response_format tool streams as content', () => {
      const text = sse([
        ev(start),
        toolStart(0, 't', 'reply'),
        jsonDelta(0, '{"answer":'),
        jsonDelta(0, '"yes"}'),
        blockStop(0),
        ev({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } }),
        ev({ type: 'message_stop' }),
      ]);
      const r = req({
        messages: [],
        response_format: { type: 'json_schema', json_schema: { name: 'reply', schema: {} } },
      });
      const out = feed(decoder({}, r), text, 13);
      const chunks = chunksOf(out);
      expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).to.equal('{"answer":"yes"}');
      expect(chunks.at(-1)!.choices[0].finish_reason).to.equal('stop');
    });

    it('a pass-through forwards the bytes untouched (pings included) and reads the usage', () => {
      const d = decoder({ keepText: 100 }, req({}, { endpoint: 'messages', stream: true }));
      const out = feed(d, toolStream, 5);
      expect(out).to.equal(toolStream);
      expect(d.usage).to.deep.equal(toolStreamUsage);
      expect(d.delivered).to.equal('');
    });
  });

  describe('errors and models', () => {
    const err = (type: string, message = 'm') => JSON.stringify({ type: 'error', error: { type, message } });

    it('reads the error shape and gives the verdicts', () => {
      expect(adapter.readError(529, err('overloaded_error', 'Overloaded'))).to.deep.equal({
        message: 'Overloaded',
        code: 'overloaded_error',
        type: 'overloaded_error',
        kind: 'rate_limited',
      });
      expect(adapter.readError(429, err('rate_limit_error')).kind).to.equal('rate_limited');
      expect(adapter.readError(401, err('authentication_error')).kind).to.equal(undefined);
      expect(adapter.readError(403, err('permission_error')).code).to.equal('permission_error');
      expect(
        adapter.readError(
          400,
          err('invalid_request_error', 'Your credit balance is too low to access the Anthropic API.'),
        ).kind,
      ).to.equal('unusable');
      expect(
        adapter.readError(400, err('invalid_request_error', 'max_tokens: Field required')).kind,
      ).to.equal(undefined);
      expect(adapter.readError(502, '<html>Bad gateway</html>')).to.deep.equal({
        message: '<html>Bad gateway</html>',
        code: null,
        type: null,
      });
    });

    it('lists models with the channel key and reads their ids', async () => {
      const p = await adapter.listModels(channel, anthropicSettingsSchema.parse({}));
      expect(p).to.deep.include({ method: 'GET', path: '/v1/models?limit=1000' });
      expect(p.headers).to.include({ 'x-api-key': 'sk-ant-test-key', 'anthropic-version': '2023-06-01' });
      const ids = adapter.readModels(
        Buffer.from(
          JSON.stringify({
            data: [
              { type: 'model', id: 'claude-a' },
              { type: 'model', id: 'claude-b' },
            ],
            has_more: false,
          }),
        ),
      );
      expect(ids).to.deep.equal(['claude-a', 'claude-b']);
    });

    it('settings: defaults, and bad values refused', () => {
      expect(anthropicSettingsSchema.parse({})).to.deep.equal({
        anthropic_version: '2023-06-01',
        anthropic_beta: [],
        thinking_budgets: {},
      });
      expect(anthropicSettingsSchema.safeParse({ thinking_budgets: { low: 10 } }).success).to.equal(false);
      expect(anthropicSettingsSchema.safeParse({ api_version: 'x' }).success).to.equal(false);
      expect(anthropicSettingsSchema.safeParse({ default_max_tokens: 0 }).success).to.equal(false);
    });
  });
});
