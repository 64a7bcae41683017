import { SignatureV4 } from '@smithy/signature-v4';
import { expect } from 'chai';
import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import {
  BEDROCK_API_KEY,
  BEDROCK_CREDENTIALS,
  BEDROCK_MODELS,
  BEDROCK_SESSION_CREDENTIALS,
  BEDROCK_USAGE,
  startFakeBedrock,
  type FakeBedrock,
} from '../helpers/fake-bedrock.js';
import { GEMINI_KEY, GEMINI_USAGE, startFakeGemini, type FakeGemini } from '../helpers/fake-gemini.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { logLines } from '../helpers/log-lines.js';
import { apiError } from '../helpers/openai.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Gemini and Bedrock channels end to end: the official `openai` client → the gateway → the fake
 * Gemini / Bedrock upstreams (themselves checked against Google's and AWS's clients). Whole
 * answers, streams, tool round trips, images, usage, errors, failover across providers, and the
 * charge of every answer against price × tokens.
 */
describe('Gemini and Bedrock channels (e2e, openai client)', function () {
  this.timeout(30_000);
  let gemini: FakeGemini;
  let bedrock: FakeBedrock;
  let openaiFake: FakeUpstream;
  let gw: TestGateway;
  let token: { id: number; key: string };
  const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
  const SIGV4_KEY = `${BEDROCK_CREDENTIALS.accessKeyId}:${BEDROCK_CREDENTIALS.secretAccessKey}`;

  const client = () =>
    new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  /** Price: input $2, cached input $1, output $4 per 1M tokens (1, 0.5 and 2 quota units per token). */
  const expectedQuota = (prompt: number, cached: number, completion: number) =>
    Math.ceil((((prompt - cached) * 2 + cached * 1 + completion * 4) / 1_000_000) * 500_000 - 1e-9);
  /** The usage row of one request, by the request id the gateway answered with (waits for it). */
  async function logOf(requestId: string | null | undefined): Promise<any> {
    expect(requestId).to.be.a('string');
    let row: any;
    await waitFor(
      async () => {
        const rows: any[] = (await gw.admin('GET', `/api/logs?token_id=${token.id}&per_page=100`)).body.data;
        row = rows.find((r) => r.request_id === requestId);
        return row !== undefined;
      },
      3000,
      `the usage row of ${requestId}`,
    );
    return row;
  }
  const channelOf = async (id: number) => (await gw.admin('GET', `/api/channels/${id}`)).body.data;
  /** A channel on a fake: its label (and failure mode) go in the base URL; the rest as given. */
  type ChannelSpec = { name: string; label: string; mode?: string; models: string[] } & Record<
    string,
    unknown
  >;
  const geminiChannel = ({ label, mode, ...fields }: ChannelSpec) =>
    gw.channel({ type: 'gemini', base_url: gemini.baseUrl(label, mode), key: GEMINI_KEY, ...fields });
  const bedrockChannel = ({ label, mode, ...fields }: ChannelSpec) =>
    gw.channel({
      type: 'bedrock',
      base_url: bedrock.baseUrl(label, mode),
      key: SIGV4_KEY,
      settings: { region: 'us-east-1' },
      ...fields,
    });
  /** One user message, answered whole. */
  const ask = (model: string, content = 'x') =>
    client().chat.completions.create({ model, messages: [{ role: 'user', content }] });
  /** A streamed chat completion and the request id it was answered with. */
  async function streamChat(body: Omit<ChatCompletionCreateParamsStreaming, 'stream'>) {
    const { data, request_id } = await client()
      .chat.completions.create({ ...body, stream: true })
      .withResponse();
    return { stream: data, streamId: request_id };
  }
  type Collected = { text: string; finish?: string | null; usage?: OpenAI.CompletionUsage };
  /** Reads a stream to its end into `got` (so what came before an error is kept): text, finish reason, usage. */
  async function collect(stream: AsyncIterable<ChatCompletionChunk>, got: Collected = { text: '' }) {
    for await (const chunk of stream) {
      got.text += chunk.choices[0]?.delta?.content ?? '';
      got.finish = chunk.choices[0]?.finish_reason ?? got.finish;
      got.usage = chunk.usage ?? got.usage;
    }
    return got;
  }

  const weather: ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather of a city',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
          additionalProperties: false,
        },
      },
    },
    {
      type: 'function',
      function: {
        name: 'get_time',
        parameters: { type: 'object', properties: { zone: { type: 'string' } } },
      },
    },
  ];
  const PNG =
    'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

  before(async () => {
    [gemini, bedrock, openaiFake] = await Promise.all([
      startFakeGemini(),
      startFakeBedrock(),
      startFakeUpstream(),
    ]);
    gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false' } });
    expect(
      (await gw.admin('PUT', '/api/prices/*', { input: 2, output: 4, cached_input: 1 })).status,
    ).to.equal(200);
    await gw.channel({
      name: 'gemini',
      type: 'gemini',
      base_url: gemini.baseUrl('g'),
      key: GEMINI_KEY,
      models: ['gemini-2.5-flash', 'gemini-3-pro-preview', 'gemini-embedding-001'],
      settings: { safety_settings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }] },
    });
    await gw.channel({
      name: 'bedrock',
      type: 'bedrock',
      base_url: bedrock.baseUrl('b'),
      key: SIGV4_KEY,
      models: ['claude-haiku'],
      model_mapping: { 'claude-haiku': HAIKU },
      settings: { region: 'us-east-1' },
    });
    token = await gw.token({ quota: 1_000_000 });
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([gemini?.close(), bedrock?.close(), openaiFake?.close()]);
  });

  describe('Gemini', () => {
    it('answers whole: text, usage with cached tokens, the key in x-goog-api-key, safety settings from the channel', async () => {
      const res = await client().chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [
          { role: 'system', content: 'Be brief' },
          { role: 'user', content: 'Hi there' },
        ],
        max_tokens: 50,
        temperature: 0.3,
        stop: ['END'],
      });
      expect(res.choices[0]!.message.content).to.equal('Hello from Gemini: Hi there');
      expect(res.choices[0]!.finish_reason).to.equal('stop');
      expect(res.usage).to.deep.include({ prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 });
      expect(res.usage!.prompt_tokens_details!.cached_tokens).to.equal(6);
      const call = gemini.calls.at(-1)!;
      expect(call).to.include({
        apiKey: GEMINI_KEY,
        action: 'generateContent',
        apiVersion: 'v1beta',
        model: 'gemini-2.5-flash',
      });
      expect(call.path).to.not.match(/key=/);
      expect(call.body.systemInstruction).to.deep.equal({ parts: [{ text: 'Be brief' }] });
      expect(call.body.generationConfig).to.deep.equal({
        maxOutputTokens: 50,
        temperature: 0.3,
        stopSequences: ['END'],
      });
      expect(call.body.safetySettings).to.deep.equal([
        { category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' },
      ]);
      const row = await logOf(res._request_id);
      expect(row).to.include({ prompt_tokens: 21, completion_tokens: 9, cached_tokens: 6, stream: false });
      expect(row.quota).to.equal(expectedQuota(21, 6, 9));
    });

    it('streams with a finish reason and a usage chunk; thinking from reasoning_effort counts as completion', async () => {
      const { stream, streamId } = await streamChat({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'one two three' }],
        stream_options: { include_usage: true },
        reasoning_effort: 'low',
      });
      const { text, finish, usage } = await collect(stream);
      expect(text).to.equal('Hello from Gemini: one two three');
      expect(finish).to.equal('stop');
      const completion = GEMINI_USAGE.candidates + GEMINI_USAGE.thoughts;
      expect(usage).to.deep.include({ prompt_tokens: 21, completion_tokens: completion });
      expect(usage!.completion_tokens_details!.reasoning_tokens).to.equal(GEMINI_USAGE.thoughts);
      const call = gemini.calls.at(-1)!;
      expect(call.action).to.equal('streamGenerateContent');
      expect(call.path).to.include('alt=sse');
      expect(call.body.generationConfig).to.deep.equal({ thinkingConfig: { thinkingBudget: 1024 } });
      const row = await logOf(streamId);
      expect(row).to.include({ prompt_tokens: 21, completion_tokens: completion, stream: true });
      expect(row.quota).to.equal(expectedQuota(21, 6, completion));
    });

    it('round-trips parallel tool calls (whole), function responses matched to their calls by name', async () => {
      const messages: ChatCompletionMessageParam[] = [
        { role: 'user', content: 'weather and time in Paris?' },
      ];
      const first = await client().chat.completions.create({
        model: 'gemini-2.5-flash',
        messages,
        tools: weather,
        tool_choice: 'required',
      });
      const choice = first.choices[0]!;
      expect(choice.finish_reason).to.equal('tool_calls');
      const calls = choice.message.tool_calls! as OpenAI.ChatCompletionMessageFunctionToolCall[];
      expect(calls.map((c) => c.function.name)).to.deep.equal(['get_weather', 'get_time']);
      expect(JSON.parse(calls[0]!.function.arguments)).to.deep.equal({ city: 'Paris' });
      expect(new Set(calls.map((c) => c.id)).size).to.equal(2);
      const sent = gemini.calls.at(-1)!.body;
      expect(sent.toolConfig).to.deep.equal({ functionCallingConfig: { mode: 'ANY' } });
      // JSON Schema keys Gemini refuses are dropped, type names upper-cased.
      expect((sent.tools as any)[0].functionDeclarations[0].parameters).to.deep.equal({
        type: 'OBJECT',
        properties: { city: { type: 'STRING' } },
        required: ['city'],
      });
      await logOf(first._request_id);

      // The answers in the reverse order of the calls: matched by id, sent by name.
      const second = await client().chat.completions.create({
        model: 'gemini-2.5-flash',
        tools: weather,
        messages: [
          ...messages,
          choice.message,
          { role: 'tool', tool_call_id: calls[1]!.id, content: '{"time":"10:00"}' },
          { role: 'tool', tool_call_id: calls[0]!.id, content: 'sunny' },
        ],
      });
      expect(second.choices[0]!.message.content).to.equal(
        'Results: [{"name":"get_time","response":{"time":"10:00"}},{"name":"get_weather","response":{"content":"sunny"}}]',
      );
      const row = await logOf(second._request_id);
      expect(row.quota).to.equal(expectedQuota(21, 6, 9));
    });

    it("carries Gemini 3's thought signatures back on the function calls of the next turn (in the call ids)", async () => {
      const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather?' }];
      const first = await client().chat.completions.create({
        model: 'gemini-3-pro-preview',
        messages,
        tools: [weather[0]!],
      });
      const call = first.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      expect(call.id).to.match(/^call_[\w-]+__thought__sig-get_weather-/);
      const second = await client().chat.completions.create({
        model: 'gemini-3-pro-preview',
        tools: [weather[0]!],
        messages: [
          ...messages,
          first.choices[0]!.message,
          { role: 'tool', tool_call_id: call.id, content: 'sunny' },
        ],
      });
      expect(second.choices[0]!.message.content).to.include('"name":"get_weather"');
      const sent = (gemini.calls.at(-1)!.body.contents as any)[1].parts[0];
      expect(sent.thoughtSignature).to.equal(call.id.split('__thought__')[1]);
      // Without it, Gemini 3 refuses the turn (the fake as the real API): a 400 to the client.
      const err = await apiError(
        client().chat.completions.create({
          model: 'gemini-3-pro-preview',
          tools: [weather[0]!],
          messages: [
            ...messages,
            { ...first.choices[0]!.message, tool_calls: [{ ...call, id: 'call_plain' }] },
            { role: 'tool', tool_call_id: 'call_plain', content: 'sunny' },
          ],
        }),
      );
      expect(err.status).to.equal(400);
      // Gemini's words (about the missing thought_signature) go to the log; the client gets the gateway's.
      expect(err.message).to.include('refused the request as invalid');
      await logOf(second._request_id);
    });

    it('streams tool calls with ids, arguments and finish_reason tool_calls', async () => {
      const { stream, streamId } = await streamChat({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'weather?' }],
        tools: weather,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      });
      const calls: { id?: string; name?: string; args: string }[] = [];
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) {
          calls[t.index] ??= { args: '' };
          if (t.id) calls[t.index]!.id = t.id;
          if (t.function?.name) calls[t.index]!.name = t.function.name;
          calls[t.index]!.args += t.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(calls).to.have.length(1);
      expect(calls[0]!.name).to.equal('get_weather');
      expect(calls[0]!.id).to.match(/^call_/);
      expect(JSON.parse(calls[0]!.args)).to.deep.equal({ city: 'Paris' });
      expect(finish).to.equal('tool_calls');
      expect(gemini.calls.at(-1)!.body.toolConfig).to.deep.equal({
        functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
      });
      const row = await logOf(streamId);
      expect(row.quota).to.equal(expectedQuota(21, 6, 9));
    });

    it('takes images (inline data) and JSON schema answers', async () => {
      const res = await client().chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this' },
              { type: 'image_url', image_url: { url: PNG } },
            ],
          },
        ],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'echo', schema: { type: 'object', properties: { echo: { type: 'string' } } } },
        },
      });
      expect(JSON.parse(res.choices[0]!.message.content!)).to.deep.equal({ echo: 'what is this', images: 1 });
      const parts = (gemini.calls.at(-1)!.body.contents as any)[0].parts;
      expect(parts[1]).to.deep.equal({ inlineData: { mimeType: 'image/png', data: PNG.split(',')[1] } });
      await logOf(res._request_id);
    });

    it('embeds through batchEmbedContents (floats and the base64 the client asks for by default)', async () => {
      const res = await client().embeddings.create({
        model: 'gemini-embedding-001',
        input: ['hello', 'world!'],
        dimensions: 4,
      });
      expect(res.data).to.have.length(2);
      expect(res.data[0]!.embedding).to.have.length(4);
      expect(res.data[1]!.embedding[0]).to.be.closeTo(0.06, 1e-6);
      const call = gemini.calls.at(-1)!;
      expect(call.action).to.equal('batchEmbedContents');
      const floats = await client().embeddings.create({
        model: 'gemini-embedding-001',
        input: 'hello',
        encoding_format: 'float',
      });
      expect(floats.data[0]!.embedding).to.have.length(8);
      // batchEmbedContents reports no usage: the input is counted locally, and charged.
      const row = await logOf(res._request_id);
      expect(row.prompt_tokens).to.be.greaterThan(0);
      expect(row.completion_tokens).to.equal(0);
      expect(row.quota).to.equal(expectedQuota(row.prompt_tokens, 0, 0));
      await logOf(floats._request_id);
    });
  });

  describe('Bedrock', () => {
    it('answers whole through Converse, signed with SigV4 (verified by the fake), usage with cache reads and writes', async () => {
      const res = await client().chat.completions.create({
        model: 'claude-haiku',
        messages: [
          { role: 'system', content: 'Be brief' },
          { role: 'user', content: 'Hi there' },
        ],
        max_completion_tokens: 40,
        top_p: 0.9,
      });
      expect(res.choices[0]!.message.content).to.equal('Hello from Bedrock: Hi there');
      expect(res.choices[0]!.finish_reason).to.equal('stop');
      const prompt = BEDROCK_USAGE.input + BEDROCK_USAGE.cacheRead + BEDROCK_USAGE.cacheWrite;
      expect(res.usage).to.deep.include({ prompt_tokens: prompt, completion_tokens: BEDROCK_USAGE.output });
      expect(res.usage!.prompt_tokens_details!.cached_tokens).to.equal(BEDROCK_USAGE.cacheRead);
      const call = bedrock.calls.at(-1)!;
      expect(call).to.include({ auth: 'sigv4', region: 'us-east-1', operation: 'converse', modelId: HAIKU });
      expect(call.body).to.deep.equal({
        messages: [{ role: 'user', content: [{ text: 'Hi there' }] }],
        system: [{ text: 'Be brief' }],
        inferenceConfig: { maxTokens: 40, topP: 0.9 },
      });
      const row = await logOf(res._request_id);
      expect(row).to.include({
        prompt_tokens: prompt,
        completion_tokens: 7,
        cached_tokens: 4,
        upstream_model: HAIKU,
      });
      expect(row.quota).to.equal(expectedQuota(prompt, BEDROCK_USAGE.cacheRead, BEDROCK_USAGE.output));
    });

    it('streams ConverseStream event frames as chunks with a usage chunk', async () => {
      const { stream, streamId } = await streamChat({
        model: 'claude-haiku',
        messages: [{ role: 'user', content: 'one two three' }],
        stream_options: { include_usage: true },
      });
      const { text, finish, usage } = await collect(stream);
      expect(text).to.equal('Hello from Bedrock: one two three');
      expect(finish).to.equal('stop');
      expect(usage).to.deep.include({ prompt_tokens: 20, completion_tokens: 7 });
      expect(bedrock.calls.at(-1)!.operation).to.equal('converse-stream');
      const row = await logOf(streamId);
      expect(row).to.include({ prompt_tokens: 20, completion_tokens: 7, stream: true });
      expect(row.quota).to.equal(expectedQuota(20, 4, 7));
    });

    it('round-trips a tool call, streamed then whole', async () => {
      const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Paris?' }];
      const { stream, streamId } = await streamChat({
        model: 'claude-haiku',
        messages,
        tools: [weather[0]!],
        tool_choice: 'auto',
      });
      let id = '';
      let name = '';
      let args = '';
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        const t = chunk.choices[0]?.delta?.tool_calls?.[0];
        if (t?.id) id = t.id;
        if (t?.function?.name) name = t.function.name;
        args += t?.function?.arguments ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(id).to.match(/^tooluse_/);
      expect(name).to.equal('get_weather');
      expect(JSON.parse(args)).to.deep.equal({ city: 'Paris' });
      expect(finish).to.equal('tool_calls');
      expect((bedrock.calls.at(-1)!.body.toolConfig as any).toolChoice).to.deep.equal({ auto: {} });
      await logOf(streamId);

      const answer = await client().chat.completions.create({
        model: 'claude-haiku',
        tools: [weather[0]!],
        messages: [
          ...messages,
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id, type: 'function', function: { name, arguments: args } }],
          },
          { role: 'tool', tool_call_id: id, content: 'sunny, 21°C' },
        ],
      });
      expect(answer.choices[0]!.message.content).to.equal(
        `Results: [{"toolUseId":"${id}","content":[{"text":"sunny, 21°C"}]}]`,
      );
      const row = await logOf(answer._request_id);
      expect(row.quota).to.equal(expectedQuota(20, 4, 7));
    });

    it('takes images as data: URLs and refuses links with a clear 400', async () => {
      const res = await client().chat.completions.create({
        model: 'claude-haiku',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what' },
              { type: 'image_url', image_url: { url: PNG } },
            ],
          },
        ],
      });
      expect(res.choices[0]!.message.content).to.equal('Hello from Bedrock: what [1 image]');
      await logOf(res._request_id);
      const before = bedrock.calls.length;
      const err = await apiError(
        client().chat.completions.create({
          model: 'claude-haiku',
          messages: [
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }],
            },
          ],
        }),
      );
      expect(err.status).to.equal(400);
      expect(err.message).to.include('data: URLs');
      expect(bedrock.calls.length).to.equal(before);
    });

    it('signs with a session token, and takes a Bedrock API key as Bearer', async () => {
      const session = await bedrockChannel({
        name: 'bedrock-session',
        label: 'session',
        key: `${BEDROCK_SESSION_CREDENTIALS.accessKeyId}:${BEDROCK_SESSION_CREDENTIALS.secretAccessKey}:${BEDROCK_SESSION_CREDENTIALS.sessionToken}`,
        models: ['session-model'],
        model_mapping: { 'session-model': HAIKU },
        settings: { region: 'eu-central-1' },
      });
      const viaSession = await ask('session-model');
      expect(bedrock.calls.at(-1)).to.include({ label: 'session', auth: 'sigv4', region: 'eu-central-1' });
      expect(session.key_masked).to.not.include(BEDROCK_SESSION_CREDENTIALS.secretAccessKey);
      await logOf(viaSession._request_id);
      await bedrockChannel({
        name: 'bedrock-key',
        label: 'apikey',
        key: BEDROCK_API_KEY,
        models: ['bearer-model'],
        model_mapping: { 'bearer-model': HAIKU },
        settings: { region: 'us-west-2' },
      });
      const viaKey = await ask('bearer-model');
      expect(bedrock.calls.at(-1)).to.include({ label: 'apikey', auth: 'bearer' });
      await logOf(viaKey._request_id);
    });

    it("a signer that fails quoting the channel's credentials: neither the log nor a channel test shows them", async () => {
      const log = logLines();
      const own = await startTestGateway({ logger: log.logger });
      const { accessKeyId, secretAccessKey, sessionToken } = BEDROCK_SESSION_CREDENTIALS;
      const key = `${accessKeyId}:${secretAccessKey}:${sessionToken}`;
      const sign = SignatureV4.prototype.sign;
      // As a signer might word a failure: naming what it was given.
      SignatureV4.prototype.sign = async function (this: unknown) {
        const c = await (
          this as { credentialProvider: () => Promise<Record<string, string>> }
        ).credentialProvider();
        throw new Error(
          `cannot sign for ${c.accessKeyId} with secret ${c.secretAccessKey} and session token ${c.sessionToken} (${key})`,
        );
      } as typeof sign;
      try {
        const channel = await own.channel({
          name: 'unsignable',
          type: 'bedrock',
          base_url: bedrock.baseUrl('unsignable'),
          key,
          models: ['unsignable-model'],
          settings: { region: 'us-east-1' },
        });
        const ownToken = await own.token();
        const err = await apiError(
          new OpenAI({
            apiKey: ownToken.key,
            baseURL: `${own.url}/v1`,
            maxRetries: 0,
          }).chat.completions.create({
            model: 'unsignable-model',
            messages: [{ role: 'user', content: 'hi' }],
          }),
        );
        expect(err.status).to.equal(502);
        const tested = await own.admin('POST', `/api/channels/${channel.id}/test`);
        expect(tested.body.data).to.include({ ok: false });
        const failed = log.lines.find((l) => l.msg === 'upstream attempt failed');
        expect(failed).to.include({ reason: 'prepare' });
        expect(failed!.upstream).to.contain('cannot sign for').and.contain('[channel key]');
        for (const secret of [key, secretAccessKey, sessionToken, accessKeyId]) {
          expect(log.text()).to.not.contain(secret);
          expect(tested.body.data.message).to.not.contain(secret);
        }
        expect(bedrock.calls.filter((c) => c.label === 'unsignable')).to.have.length(0);
      } finally {
        SignatureV4.prototype.sign = sign;
        await own.stop();
      }
    });

    it('refuses settings without a region, with a 400 naming the field', async () => {
      const r = await gw.admin('POST', '/api/channels', {
        name: 'no-region',
        type: 'bedrock',
        base_url: bedrock.baseUrl('x'),
        key: SIGV4_KEY,
        models: ['m'],
      });
      expect(r.status).to.equal(400);
      expect(r.body.error.param).to.equal('settings.region');
    });
  });

  describe('/v1/responses bridged to Gemini and Bedrock channels', () => {
    for (const [model, greeting] of [
      ['gemini-2.5-flash', 'Hello from Gemini'],
      ['claude-haiku', 'Hello from Bedrock'],
    ] as const) {
      it(`${model}: a whole Response, then a function tool round trip streamed, charged exactly`, async () => {
        const whole = await client().responses.create({ model, input: 'Hi there', instructions: 'Be brief' });
        expect(whole.output_text).to.equal(`${greeting}: Hi there`);
        const row = await logOf(whole._request_id);
        expect(row.quota).to.equal(
          model === 'claude-haiku' ? expectedQuota(20, 4, 7) : expectedQuota(21, 6, 9),
        );
        expect(whole.usage?.input_tokens).to.equal(row.prompt_tokens);

        const tool = {
          type: 'function' as const,
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: false,
        };
        const first = await client().responses.create({ model, input: 'Weather in Paris?', tools: [tool] });
        const call = first.output.find((o) => o.type === 'function_call')!;
        expect(call).to.include({ name: 'get_weather', arguments: '{"city":"Paris"}' });
        const stream = client().responses.stream({
          model,
          tools: [tool],
          input: [
            { role: 'user', content: 'Weather in Paris?' },
            ...(first.output as OpenAI.Responses.ResponseInputItem[]),
            { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
          ],
        });
        const final = await stream.finalResponse();
        expect(final.output_text).to.include('sunny');
        expect(final.usage?.output_tokens).to.be.greaterThan(0);
      });
    }
  });

  describe('channel tests and upstream model lists', () => {
    it('tests a Gemini and a Bedrock channel through their adapters, and lists their upstream models', async () => {
      const channels = (await gw.admin('GET', '/api/channels?per_page=100')).body.data as any[];
      const g = channels.find((c) => c.name === 'gemini');
      const b = channels.find((c) => c.name === 'bedrock');
      const gt = await gw.admin('POST', `/api/channels/${g.id}/test`, {});
      expect(gt.body.data).to.include({ ok: true, status: 200 });
      expect(gemini.calls.at(-1)!.body.generationConfig).to.deep.equal({ maxOutputTokens: 1 });
      const bt = await gw.admin('POST', `/api/channels/${b.id}/test`, {});
      expect(bt.body.data).to.include({ ok: true, status: 200 });
      expect(bedrock.calls.at(-1)).to.include({ auth: 'sigv4', modelId: HAIKU });

      const gm = await gw.admin('GET', `/api/channels/${g.id}/upstream-models`);
      expect(gm.body.data).to.include.members(['gemini-2.5-flash', 'gemini-embedding-001']);
      expect(gemini.calls.at(-1)).to.include({ method: 'GET', action: 'models', apiKey: GEMINI_KEY });
      const bm = await gw.admin('GET', `/api/channels/${b.id}/upstream-models`);
      expect(bm.body.data).to.deep.equal(BEDROCK_MODELS);
      expect(bedrock.calls.at(-1)).to.include({
        method: 'GET',
        operation: 'foundation-models',
        auth: 'sigv4',
      });
    });

    it('a Gemini channel on another API version sends there', async () => {
      const ch = await geminiChannel({
        name: 'gemini-v1',
        label: 'ver1',
        models: ['v1-model'],
        settings: { api_version: 'v1' },
      });
      expect(ch.settings).to.deep.equal({ api_version: 'v1' });
      const res = await ask('v1-model');
      expect(gemini.calls.at(-1)).to.include({ label: 'ver1', apiVersion: 'v1' });
      await logOf(res._request_id);
      const bad = await gw.admin('PATCH', `/api/channels/${ch.id}`, { settings: { api_version: 'latest' } });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.param).to.equal('settings.api_version');
    });
  });

  describe('errors and failover', () => {
    it('fails over Gemini (500) → Bedrock (429) → OpenAI, and bills the answer that came', async () => {
      await geminiChannel({ name: 'fo-g', label: 'fo', mode: '500', models: ['fo-model'], priority: 10 });
      await bedrockChannel({ name: 'fo-b', label: 'fo', mode: '429', models: ['fo-model'], priority: 5 });
      await gw.channel({
        name: 'fo-o',
        base_url: openaiFake.baseUrl('fo'),
        models: ['fo-model'],
        priority: 0,
      });
      const res = await ask('fo-model', 'hi');
      expect(res.choices[0]!.message.content).to.equal('Hello from fo as fo-model');
      expect(gemini.calls.filter((c) => c.label === 'fo')).to.have.length(1);
      expect(bedrock.calls.filter((c) => c.label === 'fo')).to.have.length(1);
      const row = await logOf(res._request_id);
      expect(row).to.include({ retries: 2, prompt_tokens: 10, completion_tokens: 5 });
      expect(row.quota).to.equal(expectedQuota(10, 0, 5));
    });

    it('streams fail over too: Bedrock ThrottlingException before any event → Gemini', async () => {
      await bedrockChannel({ name: 'sfo-b', label: 'sfo', mode: '429', models: ['sfo-model'], priority: 5 });
      await geminiChannel({ name: 'sfo-g', label: 'sfo', models: ['sfo-model'] });
      const { stream, streamId } = await streamChat({
        model: 'sfo-model',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const { text } = await collect(stream);
      expect(text).to.equal('Hello from Gemini: hi');
      const row = await logOf(streamId);
      expect(row).to.include({ retries: 1, prompt_tokens: 21, completion_tokens: 9 });
      expect(row.quota).to.equal(expectedQuota(21, 6, 9));
    });

    it('API_KEY_INVALID (Gemini) and AccessDeniedException (Bedrock) disable their channel; the request is served elsewhere', async () => {
      const badG = await geminiChannel({
        name: 'bad-g',
        label: 'badg',
        mode: 'badkey',
        key: 'AIza-bad',
        models: ['ud-model'],
        priority: 10,
      });
      const badB = await bedrockChannel({
        name: 'bad-b',
        label: 'badb',
        mode: 'denied',
        models: ['ud-model'],
        priority: 5,
      });
      await geminiChannel({ name: 'ok-g', label: 'udok', models: ['ud-model'] });
      const res = await ask('ud-model', 'hi');
      expect(res.choices[0]!.message.content).to.equal('Hello from Gemini: hi');
      for (const [bad, what] of [
        [badG, 'the Gemini channel disabled'],
        [badB, 'the Bedrock channel disabled'],
      ] as const) {
        await waitFor(async () => (await channelOf(bad.id)).status === 'auto_disabled', 3000, what);
      }
      await logOf(res._request_id);
    });

    it("INVALID_ARGUMENT and ValidationException are the client's: a 400, not retried on another channel", async () => {
      for (const { model, addRefusing, name, label, spare, upstreamWords } of [
        {
          model: 'inv-g-model',
          addRefusing: geminiChannel,
          name: 'inv-g',
          label: 'invg',
          spare: 'invg2',
          upstreamWords: 'invalid argument',
        },
        {
          model: 'inv-b-model',
          addRefusing: bedrockChannel,
          name: 'inv-b',
          label: 'invb',
          spare: 'invb2',
          upstreamWords: 'not valid',
        },
      ]) {
        await addRefusing({ name, label, mode: 'invalid', models: [model], priority: 5 });
        await geminiChannel({ name: `${name}2`, label: spare, models: [model] });
        const err = await apiError(ask(model));
        expect(err.status).to.equal(400);
        // The gateway's own words: an upstream's text never reaches the client.
        expect(err.message).to.include('refused the request as invalid').and.not.to.include(upstreamWords);
        expect(gemini.calls.filter((c) => c.label === spare)).to.have.length(0);
      }
    });

    it('a Bedrock exception frame after the stream started ends it with an error the client sees', async () => {
      await bedrockChannel({ name: 'mid', label: 'mid', mode: 'midthrottle', models: ['mid-model'] });
      const { stream, streamId } = await streamChat({
        model: 'mid-model',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const got: Collected = { text: '' };
      const err = await collect(stream, got).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(got.text).to.equal('Hello from Bedrock: hi');
      expect(err).to.be.instanceOf(OpenAI.APIError);
      // What was delivered is billed (counted locally: the stream ended before its usage).
      const row = await logOf(streamId);
      expect(row.completion_tokens).to.be.greaterThan(0);
    });

    /** How many attempts on a channel ended with `outcome` (upstream_requests_total). */
    async function attemptsOf(channelId: number, outcome: string): Promise<number> {
      const text = await fetch(`${gw.url}/metrics`).then((r) => r.text());
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('upstream_requests_total{') &&
            l.includes(`channel="${channelId}"`) &&
            l.includes(`outcome="${outcome}"`),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    }

    it('an unreadable stream event before the first: a bad body, served by the next channel, the upstream let go at once', async () => {
      const garbled = await geminiChannel({
        name: 'garbled',
        label: 'garbled',
        mode: 'garbled',
        models: ['garbled-model'],
        priority: 10,
      });
      await geminiChannel({ name: 'garbled-ok', label: 'garbledok', models: ['garbled-model'] });
      const { stream, streamId } = await streamChat({
        model: 'garbled-model',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect((await collect(stream)).text).to.equal('Hello from Gemini: hi');
      expect(await attemptsOf(garbled.id, 'bad_body')).to.equal(1);
      // The garbled upstream holds its connection open: the gateway closed it.
      await waitFor(() => gemini.cutOff.some((c) => c.label === 'garbled'), 1000, 'the upstream let go');
      const row = await logOf(streamId);
      expect(row).to.include({ retries: 1, prompt_tokens: 21, completion_tokens: 9 });
    });

    it('an unreadable stream event after the stream started: the SSE error event and a clean end, the upstream let go', async () => {
      const garbled = await geminiChannel({
        name: 'garbled-later',
        label: 'garbledlater',
        mode: 'garbledlater',
        models: ['garbled-later-model'],
      });
      const started = Date.now();
      const { stream, streamId } = await streamChat({
        model: 'garbled-later-model',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const got: Collected = { text: '' };
      const err = await collect(stream, got).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(Date.now() - started).to.be.below(2000);
      expect(got.text).to.equal('Hello ');
      expect(err).to.be.instanceOf(OpenAI.APIError);
      expect((err as Error).message).to.contain('stream broke off (bad_body)');
      expect(await attemptsOf(garbled.id, 'bad_body')).to.equal(1);
      await waitFor(() => gemini.cutOff.some((c) => c.label === 'garbledlater'), 1000, 'the upstream let go');
      // Billed from the usage the stream had carried so far.
      expect((await logOf(streamId)).prompt_tokens).to.equal(21);
    });

    it('a prompt Gemini blocks is content_filter; a Gemini key never reaches a URL', async () => {
      await geminiChannel({ name: 'blk', label: 'blk', mode: 'blocked', models: ['blk-model'] });
      const res = await ask('blk-model');
      expect(res.choices[0]!.finish_reason).to.equal('content_filter');
      await logOf(res._request_id);
      for (const c of gemini.calls) expect(c.path).to.not.include(GEMINI_KEY);
    });
  });
});
