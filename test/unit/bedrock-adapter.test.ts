import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import { expect } from 'chai';
import type { RoutedChannel } from '../../lib/cfg/routing-index.js';
import { BadRequestError } from '../../lib/errors/bad-request.error.js';
import { BedrockAdapter } from '../../lib/relay/adapters/bedrock/bedrock.adapter.js';
import { bedrockCredentials } from '../../lib/relay/adapters/bedrock/bedrock-credentials.js';
import { readBedrockError } from '../../lib/relay/adapters/bedrock/bedrock-errors.js';
import { converseBody, modelSegment } from '../../lib/relay/adapters/bedrock/bedrock-request.js';
import {
  bedrockSettingsSchema,
  type BedrockSettings,
} from '../../lib/relay/adapters/bedrock/bedrock-settings.js';
import {
  UpstreamStreamError,
  type AdapterRequest,
  type StreamOptions,
} from '../../lib/relay/adapters/provider-adapter.js';

const channel = (apiKey: string, baseUrl = 'https://bedrock-runtime.us-east-1.amazonaws.com') => {
  const url = new URL(baseUrl);
  return {
    id: 1,
    name: 'b',
    type: 'bedrock',
    baseUrl,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    apiKey,
    modelMapping: {},
    settings: { region: 'us-east-1' },
    priority: 0,
    weight: 1,
    version: 1,
    timeouts: {},
  } as unknown as RoutedChannel;
};
const KEY = 'AKIAEXAMPLE000000001:secret/with+chars';
const settings: BedrockSettings = { region: 'us-east-1' };
const adapter = new BedrockAdapter();
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const req = (body: Record<string, unknown>, stream = false, key = KEY) =>
  ({
    channel: channel(key),
    settings,
    endpoint: 'chat',
    body: { model: MODEL, ...body },
    stream,
  }) as AdapterRequest<BedrockSettings>;
const opts: StreamOptions = { clientWantsUsage: true, keepText: 100_000, model: 'claude', id: 'chatcmpl-b' };
const user = (content: unknown) => ({ role: 'user', content });

const codec = new EventStreamCodec(toUtf8, fromUtf8);
function frame(kind: 'event' | 'exception', type: string, payload: unknown): Buffer {
  return Buffer.from(
    codec.encode({
      headers: {
        ':message-type': { type: 'string', value: kind },
        [kind === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type },
        ':content-type': { type: 'string', value: 'application/json' },
      },
      body: fromUtf8(JSON.stringify(payload)),
    }),
  );
}

function chunks(sse: string): any[] {
  return sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
    .map((e) => JSON.parse(e.slice(6)));
}

function badRequest(fn: () => unknown, param?: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BadRequestError);
    if (param) expect((err as BadRequestError).param).to.equal(param);
    return;
  }
  throw new Error('expected a BadRequestError');
}

describe('Bedrock adapter', () => {
  describe('settings and credentials', () => {
    it('needs a region, and holds nothing secret', () => {
      expect(bedrockSettingsSchema.safeParse({}).success).to.equal(false);
      expect(bedrockSettingsSchema.safeParse({ region: 'eu-central-1' }).success).to.equal(true);
      expect(bedrockSettingsSchema.safeParse({ region: 'Europe' }).success).to.equal(false);
      expect(
        bedrockSettingsSchema.safeParse({ region: 'us-east-1', secret_access_key: 'x' }).success,
      ).to.equal(false);
    });

    it('reads ACCESS_KEY_ID:SECRET[:SESSION_TOKEN] as SigV4 credentials, anything else as a Bedrock API key', () => {
      expect(bedrockCredentials('AKIAEXAMPLE000000001:se/cr+et')).to.deep.equal({
        kind: 'sigv4',
        accessKeyId: 'AKIAEXAMPLE000000001',
        secretAccessKey: 'se/cr+et',
      });
      expect(bedrockCredentials('ASIAEXAMPLE000000001:s:FwoG//token=')).to.deep.equal({
        kind: 'sigv4',
        accessKeyId: 'ASIAEXAMPLE000000001',
        secretAccessKey: 's',
        sessionToken: 'FwoG//token=',
      });
      expect(bedrockCredentials('ABSKQmVkcm9ja0FQSUtleS1hYmM=')).to.deep.equal({
        kind: 'bearer',
        token: 'ABSKQmVkcm9ja0FQSUtleS1hYmM=',
      });
      expect(bedrockCredentials('bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t').kind).to.equal('bearer');
    });
  });

  describe('requests', () => {
    it('signs each attempt with SigV4 (service bedrock, the region, host and date signed), the model id encoded as the SDK does', async () => {
      const p = await adapter.prepare(req({ messages: [user('hi')] }));
      expect(p.origin).to.equal('https://bedrock-runtime.us-east-1.amazonaws.com');
      expect(p.path).to.equal('/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse');
      expect(p.headers.host).to.equal('bedrock-runtime.us-east-1.amazonaws.com');
      expect(p.headers['x-amz-date']).to.match(/^\d{8}T\d{6}Z$/);
      expect(p.headers.authorization).to.match(
        /^AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      expect(JSON.stringify(p)).to.not.include('secret/with+chars');
      const stream = await adapter.prepare(req({ messages: [user('hi')] }, true));
      expect(stream.path).to.match(/\/converse-stream$/);
      expect(stream.headers.accept).to.equal('application/vnd.amazon.eventstream');
      // A different body is a different signature.
      const other = await adapter.prepare(req({ messages: [user('ho')] }));
      expect(other.headers.authorization).to.not.equal(p.headers.authorization);
    });

    it('sends the session token, or a Bedrock API key as Bearer', async () => {
      const s = await adapter.prepare(req({ messages: [user('hi')] }, false, 'ASIAEXAMPLE000000001:s:tok'));
      expect(s.headers['x-amz-security-token']).to.equal('tok');
      expect(s.headers.authorization).to.include('x-amz-security-token');
      const b = await adapter.prepare(req({ messages: [user('hi')] }, false, 'ABSKkey'));
      expect(b.headers.authorization).to.equal('Bearer ABSKkey');
      expect(b.headers['x-amz-date']).to.equal(undefined);
    });

    it('encodes model ids and ARNs as one path segment', () => {
      expect(modelSegment('arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.x-v1:0')).to.equal(
        'arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.anthropic.x-v1%3A0',
      );
    });

    it('builds a Converse body: system blocks, alternating turns, tool uses and results, inference config, tools', () => {
      const body = converseBody({
        messages: [
          { role: 'system', content: 'S' },
          user('a'),
          user([
            { type: 'text', text: 'b' },
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/AA==' } },
          ]),
          {
            role: 'assistant',
            content: '',
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
              { id: 't2', type: 'function', function: { name: 'g', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 't1', content: 'one' },
          { role: 'tool', tool_call_id: 't2', content: [{ type: 'text', text: 'two' }] },
        ],
        max_tokens: 10,
        temperature: 0.2,
        stop: ['X', 'Y'],
        tools: [
          {
            type: 'function',
            function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'number' } } } },
          },
          { type: 'function', function: { name: 'g', description: 'G' } },
        ],
        tool_choice: { type: 'function', function: { name: 'f' } },
      });
      expect(body).to.deep.equal({
        system: [{ text: 'S' }],
        messages: [
          {
            role: 'user',
            content: [
              { text: 'a' },
              { text: 'b' },
              { image: { format: 'jpeg', source: { bytes: '/9j/AA==' } } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { toolUse: { toolUseId: 't1', name: 'f', input: { x: 1 } } },
              { toolUse: { toolUseId: 't2', name: 'g', input: {} } },
            ],
          },
          {
            role: 'user',
            content: [
              { toolResult: { toolUseId: 't1', content: [{ text: 'one' }] } },
              { toolResult: { toolUseId: 't2', content: [{ text: 'two' }] } },
            ],
          },
        ],
        inferenceConfig: { maxTokens: 10, temperature: 0.2, stopSequences: ['X', 'Y'] },
        toolConfig: {
          tools: [
            {
              toolSpec: {
                name: 'f',
                inputSchema: { json: { type: 'object', properties: { x: { type: 'number' } } } },
              },
            },
            {
              toolSpec: {
                name: 'g',
                description: 'G',
                inputSchema: { json: { type: 'object', properties: {} } },
              },
            },
          ],
          toolChoice: { tool: { name: 'f' } },
        },
      });
    });

    it("tool_choice none leaves the tools out (Converse has no 'none') unless the history has tool blocks", () => {
      const tools = [{ type: 'function', function: { name: 'f' } }];
      expect(converseBody({ messages: [user('x')], tools, tool_choice: 'none' }).toolConfig).to.equal(
        undefined,
      );
      expect(
        converseBody({ messages: [user('x')], tools, tool_choice: 'required' }).toolConfig,
      ).to.deep.include({
        toolChoice: { any: {} },
      });
    });

    it('refuses what Converse cannot take with a 400', () => {
      badRequest(() => converseBody({ messages: [user('x')], n: 2 }), 'n');
      badRequest(() =>
        converseBody({ messages: [user([{ type: 'image_url', image_url: { url: 'https://x/a.png' } }])] }),
      );
      badRequest(() =>
        converseBody({
          messages: [user([{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AA==' } }])],
        }),
      );
      badRequest(
        () =>
          converseBody({
            messages: [
              user('x'),
              {
                role: 'assistant',
                content: null,
                tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }],
              },
            ],
          }),
        'tools',
      );
      badRequest(() => converseBody({ messages: [user('x')], max_tokens: 0 }), 'max_completion_tokens');
    });
  });

  describe('answers', () => {
    it('decodes text, tool uses (their ids kept), reasoning, stop reasons and usage with cache reads and writes', () => {
      const out = adapter.decode(
        req({}),
        Buffer.from(
          JSON.stringify({
            output: {
              message: {
                role: 'assistant',
                content: [
                  { reasoningContent: { reasoningText: { text: 'hmm', signature: 's' } } },
                  { text: 'Let me check.' },
                  { toolUse: { toolUseId: 'tooluse_1', name: 'f', input: { a: [1] } } },
                ],
              },
            },
            stopReason: 'tool_use',
            usage: {
              inputTokens: 10,
              outputTokens: 5,
              totalTokens: 45,
              cacheReadInputTokens: 20,
              cacheWriteInputTokens: 10,
            },
          }),
        ),
      );
      const msg = (out.json as any).choices[0].message;
      expect(msg).to.deep.include({ content: 'Let me check.', reasoning_content: 'hmm' });
      expect(msg.tool_calls).to.deep.equal([
        { id: 'tooluse_1', type: 'function', function: { name: 'f', arguments: '{"a":[1]}' } },
      ]);
      expect((out.json as any).choices[0].finish_reason).to.equal('tool_calls');
      expect(out.usage).to.deep.equal({
        promptTokens: 40,
        completionTokens: 5,
        cachedTokens: 20,
        cacheWriteTokens: 10,
      });
      for (const [reason, finish] of [
        ['end_turn', 'stop'],
        ['stop_sequence', 'stop'],
        ['max_tokens', 'length'],
        ['guardrail_intervened', 'content_filter'],
        ['content_filtered', 'content_filter'],
      ]) {
        const r = adapter.decode(
          req({}),
          Buffer.from(
            JSON.stringify({ output: { message: { content: [{ text: 'x' }] } }, stopReason: reason }),
          ),
        );
        expect((r.json as any).choices[0].finish_reason).to.equal(finish);
      }
      expect(() => adapter.decode(req({}), Buffer.from('{"Message":"x"}'))).to.throw(SyntaxError);
    });
  });

  describe('event streams', () => {
    const frames = Buffer.concat([
      frame('event', 'messageStart', { role: 'assistant', p: 'ab' }),
      frame('event', 'contentBlockDelta', {
        contentBlockIndex: 0,
        delta: { reasoningContent: { text: 'think' } },
      }),
      frame('event', 'contentBlockDelta', { contentBlockIndex: 1, delta: { text: 'Hi ' } }),
      frame('event', 'contentBlockDelta', { contentBlockIndex: 1, delta: { text: 'thére' } }),
      frame('event', 'contentBlockStop', { contentBlockIndex: 1 }),
      frame('event', 'contentBlockStart', {
        contentBlockIndex: 2,
        start: { toolUse: { toolUseId: 'tu_1', name: 'f' } },
      }),
      frame('event', 'contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{"a"' } } }),
      frame('event', 'contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: ':1}' } } }),
      frame('event', 'contentBlockStop', { contentBlockIndex: 2 }),
      frame('event', 'messageStop', { stopReason: 'tool_use' }),
      frame('event', 'metadata', {
        usage: { inputTokens: 3, outputTokens: 4, cacheReadInputTokens: 2 },
        metrics: { latencyMs: 1 },
      }),
    ]);

    function run(bytes: Buffer, split: number) {
      const d = adapter.streamDecoder(req({}, true), opts);
      let out = '';
      for (let i = 0; i < bytes.length; i += split) out += d.push(bytes.subarray(i, i + split)).toString();
      return { out: out + d.end().toString(), d };
    }

    it('decodes frames however they are split, into text, reasoning, tool call and finish chunks with usage', () => {
      const whole = run(frames, frames.length);
      const plain = (s: string) => s.replace(/"created":\d+/g, '');
      expect(plain(run(frames, 1).out)).to.equal(plain(whole.out));
      expect(plain(run(frames, 13).out)).to.equal(plain(whole.out));
      const cs = chunks(whole.out);
      expect(cs.map((c) => c.choices[0]?.delta?.content ?? '').join('')).to.equal('Hi thére');
      expect(cs.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('')).to.equal('think');
      const calls = cs.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
      expect(calls[0]).to.deep.equal({
        index: 0,
        id: 'tu_1',
        type: 'function',
        function: { name: 'f', arguments: '' },
      });
      expect(calls.map((t: any) => t.function.arguments).join('')).to.equal('{"a":1}');
      expect(
        cs.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason),
      ).to.deep.equal(['tool_calls']);
      expect(cs.at(-1).usage).to.deep.include({ prompt_tokens: 5, completion_tokens: 4 });
      expect(whole.d.usage).to.deep.equal({
        promptTokens: 5,
        completionTokens: 4,
        cachedTokens: 2,
        cacheWriteTokens: 0,
      });
      expect(whole.out.endsWith('data: [DONE]\n\n')).to.equal(true);
    });

    it('an exception frame is an UpstreamStreamError of its kind, after the events before it', () => {
      for (const [type, kind] of [
        ['throttlingException', 'rate_limited'],
        ['validationException', 'client'],
        ['modelStreamErrorException', 'fault'],
      ] as const) {
        const d = adapter.streamDecoder(req({}, true), opts);
        const out = d.push(
          Buffer.concat([
            frame('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'x' } }),
            frame('exception', type, { message: `m ${type}` }),
          ]),
        );
        expect(out.toString()).to.include('"content":"x"');
        try {
          d.end();
          expect.fail('no error');
        } catch (err) {
          expect(err).to.be.instanceOf(UpstreamStreamError);
          expect((err as UpstreamStreamError).info).to.deep.include({
            message: `m ${type}`,
            code: type,
            kind,
          });
        }
      }
    });

    it('a corrupt frame (bad checksum) or a stream that ends inside a frame throws', () => {
      const bad = Buffer.from(
        frame('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'x' } }),
      );
      bad[bad.length - 1] ^= 0xff;
      expect(() => adapter.streamDecoder(req({}, true), opts).push(bad)).to.throw();
      const d = adapter.streamDecoder(req({}, true), opts);
      d.push(frames.subarray(0, 30));
      expect(() => d.end()).to.throw(SyntaxError);
      expect(() => adapter.streamDecoder(req({}, true), opts).push(Buffer.from([0, 0, 0, 3, 1, 2]))).to.throw(
        SyntaxError,
      );
    });
  });

  describe('errors and model lists', () => {
    it('reads exceptions by name when the body has one, else by status', () => {
      expect(
        readBedrockError(403, '{"message":"The security token included in the request is invalid."}'),
      ).to.deep.equal({
        message: 'The security token included in the request is invalid.',
        code: null,
        type: null,
        kind: 'unusable',
      });
      expect(readBedrockError(429, '{"message":"Too many requests"}').kind).to.equal('rate_limited');
      expect(readBedrockError(400, '{"message":"Malformed input request"}').kind).to.equal('client');
      expect(
        readBedrockError(400, '{"__type":"com.amazon.coral#ServiceQuotaExceededException","message":"q"}'),
      ).to.deep.include({
        code: 'ServiceQuotaExceededException',
        kind: 'rate_limited',
      });
      expect(readBedrockError(500, '{"Message":"boom"}')).to.deep.equal({
        message: 'boom',
        code: null,
        type: null,
      });
      expect(readBedrockError(408, '{"message":"Model has timed out"}').kind).to.equal('fault');
      expect(readBedrockError(424, '{"message":"model error"}').kind).to.equal('fault');
    });

    it('lists foundation models on the control-plane host, signed', async () => {
      const p = await adapter.listModels(channel(KEY), settings);
      expect(p).to.include({
        method: 'GET',
        origin: 'https://bedrock.us-east-1.amazonaws.com',
        path: '/foundation-models',
      });
      expect(p.headers.authorization).to.include('/us-east-1/bedrock/aws4_request');
      const proxy = await adapter.listModels(channel(KEY, 'http://127.0.0.1:9/lab/ok'), settings);
      expect(proxy).to.include({ origin: 'http://127.0.0.1:9', path: '/lab/ok/foundation-models' });
      expect(
        adapter.readModels(
          Buffer.from(JSON.stringify({ modelSummaries: [{ modelId: 'a' }, { modelId: 'b' }] })),
        ),
      ).to.deep.equal(['a', 'b']);
    });
  });
});
