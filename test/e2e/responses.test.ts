import { expect } from 'chai';
import OpenAI from 'openai';
import { AZURE_KEY, startFakeAzure, type FakeAzure } from '../helpers/fake-azure.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { usageRows } from '../helpers/usage.js';
import { apiError } from '../helpers/openai.js';

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: true,
};

/** `/v1/responses` through the gateway with the official `openai` client. */
describe('Responses API end to end (official openai client)', function () {
  this.timeout(20_000);
  let fake: FakeUpstream;
  let gw: TestGateway;

  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
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
    gw = await startTestGateway({
      env: {
        ALLOW_UNPRICED_MODELS: 'false',
        QUOTA_RESERVE_TOKENS: '0',
        UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '600',
      },
      seed: 3,
    });
    // Input $2 and output $4 per 1M tokens: 1 and 2 quota units per token, so the fakes' usage
    // (10 input, 5 output tokens) costs 20 units on every path.
    expect((await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 4 })).status).to.equal(200);
  });
  afterEach(async () => {
    fake.release();
    await gw.stop();
  });

  const paths = [
    { name: 'an OpenAI channel, bridged through chat', settings: {}, upstreamPath: '/v1/chat/completions' },
    {
      name: 'an OpenAI channel serving the Responses API natively',
      settings: { responses_api: true },
      upstreamPath: '/v1/responses',
    },
  ];

  for (const path of paths) {
    describe(path.name, () => {
      beforeEach(async () => {
        await gw.channel({
          name: 'a',
          base_url: fake.baseUrl('a'),
          models: ['gpt-4o'],
          settings: path.settings,
        });
      });

      it('answers a whole Response and charges its usage exactly', async () => {
        const token = await gw.token({ quota: 1000 });
        const r = await client(token.key).responses.create({
          model: 'gpt-4o',
          instructions: 'Be brief.',
          input: 'hi',
          max_output_tokens: 50,
          metadata: { trace: 't-1' },
        });
        expect(r.object).to.equal('response');
        expect(r.id).to.match(/^resp_/);
        expect(r.status).to.equal('completed');
        expect(r.output_text).to.equal('Hello from a as gpt-4o');
        expect(r.instructions).to.equal('Be brief.');
        expect(r.metadata).to.deep.equal({ trace: 't-1' });
        expect(r.usage).to.deep.include({ input_tokens: 10, output_tokens: 5, total_tokens: 15 });
        const sent = fake.requests[0]!;
        expect(sent.path).to.equal(path.upstreamPath);
        expect(sent.authorization).to.equal('Bearer sk-upstream-test-key');
        const [row] = await logsOf(token.id, 1);
        expect(row).to.include({
          model: 'gpt-4o',
          prompt_tokens: 10,
          completion_tokens: 5,
          quota: 20,
          stream: false,
          status: 200,
        });
        expect((await gw.admin('GET', `/api/tokens/${token.id}`)).body.data).to.include({
          quota: 980,
          used_quota: 20,
        });
      });

      it('streams the response.* events in order, with usage in response.completed, and charges it', async () => {
        const token = await gw.token({ quota: 1000 });
        const stream = await client(token.key).responses.create({
          model: 'gpt-4o',
          input: 'hi',
          stream: true,
        });
        const events: OpenAI.Responses.ResponseStreamEvent[] = [];
        for await (const event of stream) events.push(event);
        const types = events.map((e) => e.type);
        expect(types.slice(0, 3)).to.deep.equal([
          'response.created',
          'response.in_progress',
          'response.output_item.added',
        ]);
        expect(types.slice(-3)).to.deep.equal([
          'response.content_part.done',
          'response.output_item.done',
          'response.completed',
        ]);
        expect(events.map((e) => e.sequence_number)).to.deep.equal(events.map((_, i) => i));
        const text = events
          .flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []))
          .join('');
        expect(text).to.equal('Hello from a as gpt-4o');
        const done = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
        expect(done.response.usage).to.deep.include({ input_tokens: 10, output_tokens: 5, total_tokens: 15 });
        expect(fake.requests[0]!.path).to.equal(path.upstreamPath);
        const [row] = await logsOf(token.id, 1);
        expect(row).to.include({
          prompt_tokens: 10,
          completion_tokens: 5,
          quota: 20,
          stream: true,
          status: 200,
        });
      });

      it('round-trips a function tool (create, then the responses.stream helper) and charges both calls', async () => {
        const token = await gw.token({ quota: 1000 });
        const openai = client(token.key);
        const first = await openai.responses.create({
          model: 'gpt-4o',
          input: 'Weather in Paris?',
          tools: [weather],
        });
        const call = first.output.find((o) => o.type === 'function_call')!;
        expect(call).to.include({ type: 'function_call', name: 'weather', arguments: '{"city":"Paris"}' });
        expect(call.call_id).to.equal('call_fake_1');
        const stream = openai.responses.stream({
          model: 'gpt-4o',
          tools: [weather],
          input: [
            { role: 'user', content: 'Weather in Paris?' },
            ...(first.output as OpenAI.Responses.ResponseInputItem[]),
            { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
          ],
        });
        const deltas: string[] = [];
        stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
        const second = await stream.finalResponse();
        expect(second.output_text).to.equal('Hello from a as gpt-4o; the tool said sunny');
        expect(deltas.join('')).to.equal(second.output_text);
        const rows = await logsOf(token.id, 2);
        expect(rows.map((r) => [r.quota, r.stream])).to.have.deep.members([
          [20, false],
          [20, true],
        ]);
      });

      it('streams a function call with its argument deltas', async () => {
        const token = await gw.token({ quota: 1000 });
        const stream = client(token.key).responses.stream({
          model: 'gpt-4o',
          input: 'Weather?',
          tools: [weather],
        });
        const args: string[] = [];
        stream.on('response.function_call_arguments.delta', (e) => args.push(e.delta));
        const final = await stream.finalResponse();
        const call = final.output.find((o) => o.type === 'function_call')!;
        expect(call).to.include({ name: 'weather', arguments: '{"city":"Paris"}', call_id: 'call_fake_1' });
        expect(args.join('')).to.equal('{"city":"Paris"}');
      });
    });
  }

  describe('an Azure OpenAI channel serving the Responses API natively', () => {
    let azure: FakeAzure;
    before(async () => {
      azure = await startFakeAzure();
    });
    after(async () => {
      await azure.close();
    });

    it('passes through to the v1 API (/openai/v1/responses, api-key), whole and streamed, and charges the usage', async () => {
      await gw.channel({
        name: 'az',
        type: 'azure',
        key: AZURE_KEY,
        base_url: azure.baseUrl('az'),
        models: ['gpt-4o'],
        model_mapping: { 'gpt-4o': 'my-deployment' },
        settings: { api_version: '2024-10-21', responses_api: true },
      });
      const token = await gw.token({ quota: 1000 });
      const openai = client(token.key);
      const whole = await openai.responses.create({ model: 'gpt-4o', input: 'hi' });
      expect(whole.output_text).to.equal('Hello from az as my-deployment');
      const final = await openai.responses.stream({ model: 'gpt-4o', input: 'hi' }).finalResponse();
      expect(final.output_text).to.equal('Hello from az as my-deployment');
      expect(azure.requests.map((r) => [r.api, r.operation, r.apiVersion, r.body.model])).to.deep.equal([
        ['v1', 'responses', null, 'my-deployment'],
        ['v1', 'responses', null, 'my-deployment'],
      ]);
      const rows = await logsOf(token.id, 2);
      expect(rows.map((r) => [r.prompt_tokens, r.completion_tokens, r.quota])).to.deep.equal([
        [10, 5, 20],
        [10, 5, 20],
      ]);
    });
  });

  describe('refusals and errors', () => {
    let openai: OpenAI;
    beforeEach(async () => {
      await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
      openai = client((await gw.token({ quota: 1000 })).key);
    });

    it('refuses previous_response_id, and built-in tools when no channel serves the Responses API natively, with a 400 that says why', async () => {
      const prev = await apiError(
        openai.responses.create({ model: 'gpt-4o', input: 'more', previous_response_id: 'resp_123' }),
      );
      expect(prev.status).to.equal(400);
      expect(prev.param).to.equal('previous_response_id');
      expect(prev.code).to.equal('unsupported_parameter');
      expect(prev.message).to.contain('does not store responses');
      const search = await apiError(
        openai.responses.create({ model: 'gpt-4o', input: 'news?', tools: [{ type: 'web_search' }] }),
      );
      expect([search.status, search.param, search.code]).to.deep.equal([
        400,
        'tools[0].type',
        'unsupported_tool',
      ]);
      expect(search.message).to.contain('needs a channel that serves the Responses API natively');
      expect(fake.requests).to.have.length(0);
    });

    it('sends a request with built-in tools to a channel serving the Responses API natively, passing bridged ones over', async () => {
      // 'a' (bridged, priority 0) exists; a bridged channel in front and a native one behind it.
      await gw.channel({ name: 'front', base_url: fake.baseUrl('front'), models: ['gpt-4o'], priority: 10 });
      await gw.channel({
        name: 'native',
        base_url: fake.baseUrl('native'),
        models: ['gpt-4o'],
        priority: 5,
        settings: { responses_api: true },
      });
      const r = await openai.responses.create({
        model: 'gpt-4o',
        input: 'news?',
        tools: [{ type: 'web_search' }, weather],
        tool_choice: 'auto',
      });
      expect(r.output[0]).to.include({ type: 'function_call', name: 'weather' });
      expect(fake.requests.map((q) => [q.label, q.path])).to.deep.equal([['native', '/v1/responses']]);
      expect((fake.requests[0]!.body.tools as { type: string }[]).map((t) => t.type)).to.deep.equal([
        'web_search',
        'function',
      ]);
      // A plain request still takes the first tier, bridged.
      await openai.responses.create({ model: 'gpt-4o', input: 'hi' });
      expect(fake.requests.at(-1)!.label).to.equal('front');
    });

    it('answers GET /v1/responses/{id} (and delete, cancel, input items) with a 400: responses are not stored', async () => {
      for (const call of [
        () => openai.responses.retrieve('resp_123'),
        () => openai.responses.delete('resp_123'),
        () => openai.responses.cancel('resp_123'),
        () => openai.responses.inputItems.list('resp_123'),
      ]) {
        const err = await apiError(call());
        expect(err.status).to.equal(400);
        expect(err.code).to.equal('responses_not_stored');
        expect(err.message).to.contain('does not store responses');
      }
      const stranger = await apiError(client('sk-unknown').responses.retrieve('resp_123'));
      expect(stranger.status).to.equal(401);
    });

    it('ends a bridged stream that breaks after it started with error and response.failed, and bills what was delivered', async () => {
      const token = await gw.token({ quota: 1000 });
      await gw.channel({
        name: 'cut',
        base_url: fake.baseUrl('cut', 'reset'),
        models: ['gpt-4o'],
        priority: 10,
      });
      const stream = await client(token.key).responses.create({ model: 'gpt-4o', input: 'hi', stream: true });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      expect(events.map((e) => e.type)).to.deep.equal([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'error',
        'response.failed',
      ]);
      const failed = events.at(-1) as OpenAI.Responses.ResponseFailedEvent;
      expect(failed.response.status).to.equal('failed');
      expect(failed.response.error?.code).to.equal('server_error');
      const [row] = await logsOf(token.id, 1);
      expect(row.stream).to.equal(true);
      expect(row.completion_tokens).to.be.greaterThan(0);
      expect(row.quota).to.equal(row.prompt_tokens + 2 * row.completion_tokens);
    });

    it("fails over to a healthy channel, and passes an upstream's 400 on in OpenAI's error shape", async () => {
      await gw.channel({
        name: 'down',
        base_url: fake.baseUrl('down', '500'),
        models: ['gpt-4o'],
        priority: 10,
      });
      const r = await openai.responses.create({ model: 'gpt-4o', input: 'hi' });
      expect(r.output_text).to.equal('Hello from a as gpt-4o');
      expect(fake.requests.map((q) => q.label)).to.deep.equal(['down', 'a']);
      await gw.channel({
        name: 'picky',
        base_url: fake.baseUrl('picky', '400'),
        models: ['gpt-4o'],
        priority: 20,
      });
      const bad = await apiError(openai.responses.create({ model: 'gpt-4o', input: 'hi', temperature: 9 }));
      expect(bad.status).to.equal(400);
      expect(bad.type).to.equal('invalid_request_error');
      // The upstream's param passes; its words do not.
      expect(bad.param).to.equal('temperature');
      expect(bad.message).not.to.contain('Invalid value for temperature');
    });
  });
});
