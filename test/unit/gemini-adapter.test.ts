import { expect } from 'chai';
import type { RoutedChannel } from '../../lib/cfg/routing-index.js';
import { BadRequestError } from '../../lib/errors/bad-request.error.js';
import { GeminiAdapter } from '../../lib/relay/adapters/gemini/gemini.adapter.js';
import { readGeminiError } from '../../lib/relay/adapters/gemini/gemini-errors.js';
import { parseAutoDisableRules, upstreamFailure } from '../../lib/relay/upstream-failure.js';
import { generateContentBody, geminiSchema } from '../../lib/relay/adapters/gemini/gemini-request.js';
import {
  geminiSettingsSchema,
  type GeminiSettings,
} from '../../lib/relay/adapters/gemini/gemini-settings.js';
import {
  UpstreamStreamError,
  type AdapterRequest,
  type StreamOptions,
} from '../../lib/relay/adapters/provider-adapter.js';

const channel = {
  id: 1,
  name: 'g',
  type: 'gemini',
  baseUrl: 'https://generativelanguage.googleapis.com',
  origin: 'https://generativelanguage.googleapis.com',
  basePath: '',
  apiKey: 'AIza-secret',
  modelMapping: {},
  settings: {},
  priority: 0,
  weight: 1,
  version: 1,
  timeouts: {},
} as unknown as RoutedChannel;

const settings: GeminiSettings = geminiSettingsSchema.parse({});
const adapter = new GeminiAdapter();
const req = (body: Record<string, unknown>, stream = false, endpoint: 'chat' | 'embeddings' = 'chat') =>
  ({
    channel,
    settings,
    endpoint,
    body: { model: 'gemini-2.5-flash', ...body },
    stream,
  }) as AdapterRequest<GeminiSettings>;
const opts = (o: Partial<StreamOptions> = {}): StreamOptions => ({
  clientWantsUsage: true,
  keepText: 100_000,
  model: 'my-model',
  id: 'chatcmpl-x',
  ...o,
});
const user = (content: unknown) => ({ role: 'user', content });

/** The chunk objects of SSE bytes (without [DONE]). */
function chunks(sse: string): any[] {
  return sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
    .map((e) => JSON.parse(e.slice(6)));
}

function badRequest(fn: () => unknown, param?: string): BadRequestError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BadRequestError);
    if (param) expect((err as BadRequestError).param).to.equal(param);
    return err as BadRequestError;
  }
  throw new Error('expected a BadRequestError');
}

describe('Gemini adapter', () => {
  describe('settings', () => {
    it('defaults to v1beta and refuses an unknown version, threshold or field', () => {
      expect(geminiSettingsSchema.parse({})).to.deep.equal({ api_version: 'v1beta' });
      expect(geminiSettingsSchema.safeParse({ api_version: 'v1alpha' }).success).to.equal(true);
      expect(geminiSettingsSchema.safeParse({ api_version: 'latest' }).success).to.equal(false);
      expect(
        geminiSettingsSchema.safeParse({
          safety_settings: [{ category: 'HARM_CATEGORY_X', threshold: 'SOMETIMES' }],
        }).success,
      ).to.equal(false);
      expect(geminiSettingsSchema.safeParse({ region: 'x' }).success).to.equal(false);
    });
  });

  describe('requests', () => {
    it('puts the key in x-goog-api-key, never in the URL; streams ask for alt=sse', async () => {
      const whole = await adapter.prepare(req({ messages: [user('hi')] }));
      expect(whole.path).to.equal('/v1beta/models/gemini-2.5-flash:generateContent');
      expect(whole.headers['x-goog-api-key']).to.equal('AIza-secret');
      const stream = await adapter.prepare(req({ messages: [user('hi')] }, true));
      expect(stream.path).to.equal('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
      const embed = await adapter.prepare(req({ input: 'x' }, false, 'embeddings'));
      expect(embed.path).to.equal('/v1beta/models/gemini-2.5-flash:batchEmbedContents');
      for (const p of [whole, stream, embed]) expect(p.path + p.origin).to.not.include('AIza');
      const models = await adapter.listModels(channel, settings);
      expect(models).to.include({ method: 'GET', path: '/v1beta/models?pageSize=1000' });
      expect(models.headers['x-goog-api-key']).to.equal('AIza-secret');
    });

    it('takes a base URL pasted with its version as it is, and another api_version from the settings', async () => {
      const versioned = { ...channel, basePath: '/v1beta' } as RoutedChannel;
      const p = await adapter.prepare({ ...req({ messages: [user('hi')] }), channel: versioned });
      expect(p.path).to.equal('/v1beta/models/gemini-2.5-flash:generateContent');
      const v1 = await adapter.prepare({
        ...req({ messages: [user('hi')] }),
        settings: { api_version: 'v1' },
      });
      expect(v1.path).to.equal('/v1/models/gemini-2.5-flash:generateContent');
    });

    it('translates roles, merges consecutive turns, and sends tool results by the name of their call', () => {
      const body = generateContentBody(
        {
          messages: [
            { role: 'system', content: 'S1' },
            { role: 'developer', content: [{ type: 'text', text: 'S2' }] },
            user('a'),
            user([
              { type: 'text', text: 'b' },
              { type: 'image_url', image_url: { url: 'https://x.test/cat.webp?x=1' } },
            ]),
            {
              role: 'assistant',
              content: 'calling',
              tool_calls: [
                { id: 'c1', type: 'function', function: { name: 'f1', arguments: '{"a":1}' } },
                { id: 'c2', type: 'function', function: { name: 'f2', arguments: '' } },
              ],
            },
            { role: 'tool', tool_call_id: 'c2', content: '[1,2]' },
            { role: 'tool', tool_call_id: 'c1', content: '{"ok":true}' },
          ],
        },
        settings,
      );
      expect(body.systemInstruction).to.deep.equal({ parts: [{ text: 'S1' }, { text: 'S2' }] });
      expect(body.contents).to.deep.equal([
        {
          role: 'user',
          parts: [
            { text: 'a' },
            { text: 'b' },
            { fileData: { mimeType: 'image/webp', fileUri: 'https://x.test/cat.webp?x=1' } },
          ],
        },
        {
          role: 'model',
          parts: [
            { text: 'calling' },
            { functionCall: { name: 'f1', args: { a: 1 } } },
            { functionCall: { name: 'f2', args: {} } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'f2', response: { content: [1, 2] } } },
            { functionResponse: { name: 'f1', response: { ok: true } } },
          ],
        },
      ]);
    });

    it('maps sampling, JSON mode, thinking budget, tools and tool_choice', () => {
      const body = generateContentBody(
        {
          messages: [user('x')],
          max_completion_tokens: 100,
          top_p: 0.5,
          n: 2,
          seed: 7,
          presence_penalty: 0.1,
          stop: 'END',
          response_format: { type: 'json_object' },
          reasoning_effort: 'high',
          tools: [
            {
              type: 'function',
              function: { name: 'noargs', parameters: { type: 'object', properties: {} } },
            },
            {
              type: 'function',
              function: {
                name: 'f',
                description: 'd',
                parameters: { type: 'object', properties: { a: { type: 'integer' } } },
              },
            },
          ],
          tool_choice: 'none',
        },
        settings,
      );
      expect(body.generationConfig).to.deep.equal({
        maxOutputTokens: 100,
        topP: 0.5,
        candidateCount: 2,
        presencePenalty: 0.1,
        seed: 7,
        stopSequences: ['END'],
        responseMimeType: 'application/json',
        thinkingConfig: { thinkingBudget: 24576 },
      });
      expect(body.tools).to.deep.equal([
        {
          functionDeclarations: [
            { name: 'noargs' },
            {
              name: 'f',
              description: 'd',
              parameters: { type: 'OBJECT', properties: { a: { type: 'INTEGER' } } },
            },
          ],
        },
      ]);
      expect(body.toolConfig).to.deep.equal({ functionCallingConfig: { mode: 'NONE' } });
    });

    it("turns JSON Schema into Gemini's Schema", () => {
      expect(
        geminiSchema({
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          additionalProperties: false,
          properties: {
            a: { type: ['string', 'null'], description: 'A' },
            b: { oneOf: [{ type: 'number' }, { const: 'x' }] },
            c: { type: 'array', items: { type: 'string', enum: ['p', 'q'] }, minItems: 1 },
          },
          required: ['a'],
        }),
      ).to.deep.equal({
        type: 'OBJECT',
        properties: {
          a: { type: 'STRING', nullable: true, description: 'A' },
          b: { anyOf: [{ type: 'NUMBER' }, { enum: ['x'] }] },
          c: { type: 'ARRAY', minItems: 1, items: { type: 'STRING', enum: ['p', 'q'] } },
        },
        required: ['a'],
      });
    });

    it('refuses what cannot be translated with a 400 naming the field', () => {
      badRequest(() => generateContentBody({ messages: [] }, settings), 'messages');
      badRequest(
        () => generateContentBody({ messages: [{ role: 'robot', content: 'x' }] }, settings),
        'messages[0].role',
      );
      badRequest(
        () =>
          generateContentBody(
            { messages: [user('x'), { role: 'tool', tool_call_id: 'nope', content: 'r' }] },
            settings,
          ),
        'messages[1].tool_call_id',
      );
      badRequest(
        () =>
          generateContentBody(
            {
              messages: [
                user('x'),
                {
                  role: 'assistant',
                  content: null,
                  tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
                },
              ],
            },
            settings,
          ),
        'messages[1].tool_calls[0].function.arguments',
      );
      badRequest(
        () => generateContentBody({ messages: [user('x')], reasoning_effort: 'max' }, settings),
        'reasoning_effort',
      );
      badRequest(
        () => generateContentBody({ messages: [user('x')], tool_choice: 'sometimes' }, settings),
        'tool_choice',
      );
      badRequest(
        () => generateContentBody({ messages: [user([{ type: 'video', video: {} }])] }, settings),
        'messages[0].content[0]',
      );
      badRequest(
        () => generateContentBody({ messages: [{ role: 'system', content: 'only system' }] }, settings),
        'messages',
      );
    });
  });

  describe('answers', () => {
    const answer = (res: unknown) => adapter.decode(req({}), Buffer.from(JSON.stringify(res)));

    it('keeps every part of every candidate: text, thoughts, parallel calls with ids; maps finish reasons', () => {
      const out = answer({
        candidates: [
          { index: 1, content: { parts: [{ text: 'second' }] }, finishReason: 'MAX_TOKENS' },
          {
            index: 0,
            content: {
              parts: [
                { text: 'thinking…', thought: true },
                { text: 'Sure. ' },
                { functionCall: { name: 'a', args: { x: 1 } } },
                { functionCall: { name: 'b' } },
              ],
            },
            finishReason: 'STOP',
          },
          { index: 2, content: { parts: [{ text: 'bad' }] }, finishReason: 'RECITATION' },
        ],
        usageMetadata: {
          promptTokenCount: 100,
          cachedContentTokenCount: 40,
          candidatesTokenCount: 20,
          thoughtsTokenCount: 5,
          toolUsePromptTokenCount: 3,
        },
      });
      const json = out.json as any;
      expect(json.choices.map((c: any) => c.finish_reason)).to.deep.equal([
        'tool_calls',
        'length',
        'content_filter',
      ]);
      const first = json.choices[0].message;
      expect(first.content).to.equal('Sure. ');
      expect(first.reasoning_content).to.equal('thinking…');
      expect(first.tool_calls.map((t: any) => [t.function.name, t.function.arguments])).to.deep.equal([
        ['a', '{"x":1}'],
        ['b', '{}'],
      ]);
      expect(first.tool_calls[0].id)
        .to.match(/^call_/)
        .and.not.equal(first.tool_calls[1].id);
      expect(out.usage).to.deep.equal({
        promptTokens: 103,
        completionTokens: 25,
        cachedTokens: 40,
        cacheWriteTokens: 0,
        reasoningTokens: 5,
      });
      expect(json.usage).to.deep.include({ prompt_tokens: 103, completion_tokens: 25, total_tokens: 128 });
      expect(JSON.parse(out.body as string)).to.deep.equal(json);
    });

    it('a blocked prompt (no candidate) is content_filter; SAFETY is content_filter', () => {
      expect(
        (answer({ promptFeedback: { blockReason: 'SAFETY' } }).json as any).choices[0].finish_reason,
      ).to.equal('content_filter');
      expect(
        (
          answer({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'SAFETY' }] })
            .json as any
        ).choices[0].finish_reason,
      ).to.equal('content_filter');
    });

    it('throws on a body that is not an answer (the relay then tries another channel)', () => {
      expect(() => adapter.decode(req({}), Buffer.from('<html>'))).to.throw(SyntaxError);
    });

    it('embeddings: floats, or base64 little-endian float32 when asked', () => {
      const raw = Buffer.from(JSON.stringify({ embeddings: [{ values: [0.5, -1] }] }));
      const floats = adapter.decode(req({ input: 'x' }, false, 'embeddings'), raw).json as any;
      expect(floats.data[0]).to.deep.equal({ object: 'embedding', index: 0, embedding: [0.5, -1] });
      const b64 = adapter.decode(req({ input: 'x', encoding_format: 'base64' }, false, 'embeddings'), raw)
        .json as any;
      const buf = Buffer.from(b64.data[0].embedding, 'base64');
      expect([buf.readFloatLE(0), buf.readFloatLE(4)]).to.deep.equal([0.5, -1]);
    });
  });

  describe('streams', () => {
    const events = [
      {
        candidates: [{ index: 0, content: { parts: [{ text: 'Hel' }] } }],
        usageMetadata: { promptTokenCount: 10 },
      },
      {
        candidates: [
          {
            index: 0,
            content: {
              parts: [{ text: 'lo', thought: false }, { functionCall: { name: 'f', args: { q: 'é' } } }],
            },
          },
        ],
      },
      {
        candidates: [
          { index: 0, content: { parts: [{ functionCall: { name: 'g', args: {} } }] }, finishReason: 'STOP' },
        ],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 4, thoughtsTokenCount: 2 },
      },
    ];
    const sse = events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');

    function run(bytes: Buffer, split: number, o: Partial<StreamOptions> = {}) {
      const d = adapter.streamDecoder(req({}, true), opts(o));
      let out = '';
      for (let i = 0; i < bytes.length; i += split) out += d.push(bytes.subarray(i, i + split)).toString();
      out += d.end().toString();
      return { out, d };
    }

    it('gives the same chunks however the bytes are split (one byte at a time included)', () => {
      const bytes = Buffer.from(sse);
      // Generated ids and the creation time differ from run to run.
      const plain = (s: string) => s.replace(/"created":\d+/g, '').replace(/call_[\w-]+/g, 'call_');
      const whole = plain(run(bytes, bytes.length).out);
      expect(plain(run(bytes, 1).out)).to.equal(whole);
      expect(plain(run(bytes, 7).out)).to.equal(whole);
    });

    it('emits the role, text, tool calls with ids and indexes, the finish, a usage chunk and [DONE]', () => {
      const { out, d } = run(Buffer.from(sse), 1000);
      expect(out.endsWith('data: [DONE]\n\n')).to.equal(true);
      const cs = chunks(out);
      expect(cs[0].choices[0].delta).to.deep.equal({ role: 'assistant', content: '' });
      expect(
        cs.every(
          (c) => c.object === 'chat.completion.chunk' && c.id === 'chatcmpl-x' && c.model === 'my-model',
        ),
      ).to.equal(true);
      const text = cs.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      expect(text).to.equal('Hello');
      const calls = cs.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
      expect(calls.map((t: any) => [t.index, t.function.name, t.function.arguments])).to.deep.equal([
        [0, 'f', '{"q":"é"}'],
        [1, 'g', '{}'],
      ]);
      expect(calls.every((t: any) => /^call_/.test(t.id))).to.equal(true);
      expect(
        cs.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason),
      ).to.deep.equal(['tool_calls']);
      const last = cs.at(-1);
      expect(last.choices).to.deep.equal([]);
      expect(last.usage).to.deep.include({ prompt_tokens: 10, completion_tokens: 6 });
      expect(d.usage).to.deep.equal({
        promptTokens: 10,
        completionTokens: 6,
        cachedTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 2,
      });
      // What was delivered is kept as events, for counting locally.
      expect(d.delivered).to.include('"content":"Hel"');
    });

    it('no usage chunk unless asked; delivered events bounded by keepText', () => {
      const { out, d } = run(Buffer.from(sse), 1000, { clientWantsUsage: false, keepText: 0 });
      expect(chunks(out).some((c) => c.usage)).to.equal(false);
      expect(d.delivered).to.equal('');
    });

    it('an error event throws UpstreamStreamError with its kind, after the events before it in the same chunk', () => {
      const d = adapter.streamDecoder(req({}, true), opts());
      const bytes = Buffer.from(
        `data: ${JSON.stringify(events[0])}\n\ndata: ${JSON.stringify({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } })}\n\n`,
      );
      const first = d.push(bytes).toString();
      expect(chunks(first).map((c) => c.choices[0].delta.content)).to.deep.equal(['', 'Hel']);
      try {
        d.end();
        expect.fail('no error');
      } catch (err) {
        expect(err).to.be.instanceOf(UpstreamStreamError);
        expect((err as UpstreamStreamError).info).to.include({
          kind: 'rate_limited',
          code: 'RESOURCE_EXHAUSTED',
        });
      }
    });

    it('a candidate that never said its finish reason is finished at the end', () => {
      const { out } = run(Buffer.from(`data: ${JSON.stringify(events[0])}\n\n`), 1000);
      expect(
        chunks(out)
          .filter((c) => c.choices[0]?.finish_reason)
          .map((c) => c.choices[0].finish_reason),
      ).to.deep.equal(['stop']);
    });
  });

  describe('errors', () => {
    const err = (status: number, error: Record<string, unknown>) =>
      readGeminiError(status, JSON.stringify({ error }));
    it("reads Google's error shape: the reason and status decide, not the HTTP status alone", () => {
      expect(
        err(400, {
          code: 400,
          message: 'API key not valid.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
        }),
      ).to.deep.equal({
        message: 'API key not valid.',
        code: 'API_KEY_INVALID',
        type: 'INVALID_ARGUMENT',
        kind: 'unusable',
      });
      expect(err(403, { code: 403, message: 'denied', status: 'PERMISSION_DENIED' }).kind).to.equal(
        'unusable',
      );
      expect(err(429, { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' }).kind).to.equal(
        'rate_limited',
      );
      expect(err(400, { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' }).kind).to.equal('client');
      expect(err(400, { code: 400, message: 'location', status: 'FAILED_PRECONDITION' }).kind).to.equal(
        'fault',
      );
      expect(err(500, { code: 500, message: 'x', status: 'INTERNAL' }).kind).to.equal(undefined);
      // The stream endpoint's array form, and a body that is not JSON.
      expect(
        readGeminiError(429, JSON.stringify([{ error: { message: 'q', status: 'RESOURCE_EXHAUSTED' } }]))
          .kind,
      ).to.equal('rate_limited');
      expect(readGeminiError(502, '<html>bad gateway</html>')).to.deep.equal({
        message: '<html>bad gateway</html>',
        code: null,
        type: null,
      });
    });

    it("a 429's RetryInfo delay is the cooldown when no Retry-After header came", () => {
      const info = err(429, {
        code: 429,
        message: 'You exceeded your current quota.',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' },
        ],
      });
      expect(info).to.include({ kind: 'rate_limited', retryAfterMs: 37_000 });
      const rules = parseAutoDisableRules('none');
      expect(upstreamFailure(429, info, 1, undefined, rules)).to.include({
        kind: 'rate_limited',
        retryAfterMs: 37_000,
      });
      // A Retry-After header, when there is one, wins.
      expect(upstreamFailure(429, info, 1, 2_000, rules).retryAfterMs).to.equal(2_000);
      expect(
        err(429, {
          message: 'q',
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '0.5s' }],
        }).retryAfterMs,
      ).to.equal(500);
    });

    it('reads the model list', () => {
      expect(
        adapter.readModels(
          Buffer.from(JSON.stringify({ models: [{ name: 'models/gemini-2.5-pro' }, { name: 'models/x' }] })),
        ),
      ).to.deep.equal(['gemini-2.5-pro', 'x']);
    });
  });
});
