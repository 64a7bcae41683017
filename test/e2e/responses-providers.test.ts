import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { GEMINI_KEY, startFakeGemini, type FakeGemini } from '../helpers/fake-gemini.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { usageRows } from '../helpers/usage.js';

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};
const time: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'local_time',
  description: 'The local time in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

/**
 * `/v1/responses` with the official `openai` client in front of channels of other providers:
 * bridged through chat into their own APIs (each fake upstream checks every request strictly).
 */
describe('Responses API end to end: other providers (official openai client)', function () {
  this.timeout(20_000);
  let gw: TestGateway;
  let openai: OpenAI;
  let tokenId: number;

  /** The usage rows of the test's token, newest first, once `n` are written. */
  const rows = (n: number) => usageRows(gw, tokenId, n);

  async function startGateway(model: string) {
    gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false', QUOTA_RESERVE_TOKENS: '0' } });
    // $2 / $4 per 1M: 1 unit per input token (cached ones too), 2 per output token.
    const price = { input: 2, output: 4, cached_input: 2 };
    expect((await gw.admin('PUT', `/api/prices/${model}`, price)).status).to.equal(200);
    const token = await gw.token({ quota: 1000 });
    tokenId = token.id;
    openai = new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  }

  describe('a Claude channel', () => {
    let claude: FakeAnthropic;
    const claudeRequests = () => claude.requests.filter((r) => r.path === '/v1/messages');
    before(async () => {
      claude = await startFakeAnthropic();
    });
    after(async () => {
      await claude.close();
    });
    beforeEach(async () => {
      claude.requests.length = 0;
      claude.rejected.length = 0;
      await startGateway('claude-x');
      await gw.channel({
        name: 'claude',
        type: 'anthropic',
        base_url: claude.baseUrl('c1'),
        models: ['claude-x'],
      });
    });
    afterEach(async () => {
      // The fake Anthropic upstream refused nothing the bridge sent.
      expect(claude.rejected.map((r) => r.reason)).to.deep.equal([]);
      await gw.stop();
    });

    it('answers a whole Response from Claude and charges its usage exactly', async () => {
      const r = await openai.responses.create({
        model: 'claude-x',
        instructions: 'Be brief.',
        input: 'hi',
        max_output_tokens: 200,
      });
      expect(r.object).to.equal('response');
      expect(r.status).to.equal('completed');
      expect(r.output_text).to.equal('Hello from c1 as claude-x');
      expect(r.usage).to.deep.include({ input_tokens: 10, output_tokens: 5, total_tokens: 15 });
      const sent = claudeRequests()[0]!;
      expect(sent.body).to.deep.include({ model: 'claude-x', system: 'Be brief.', max_tokens: 200 });
      expect(sent.headers['x-api-key']).to.equal('sk-upstream-test-key');
      const [row] = await rows(1);
      expect(row).to.include({
        prompt_tokens: 10,
        completion_tokens: 5,
        quota: 20,
        stream: false,
        status: 200,
      });
    });

    it('streams the response.* events from a Claude stream, with usage, and charges it', async () => {
      const stream = await openai.responses.create({ model: 'claude-x', input: 'hi', stream: true });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const types = events.map((e) => e.type);
      expect(types.slice(0, 2)).to.deep.equal(['response.created', 'response.in_progress']);
      expect(types.at(-1)).to.equal('response.completed');
      expect(events.map((e) => e.sequence_number)).to.deep.equal(events.map((_, i) => i));
      const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
      expect(text).to.equal('Hello from c1 as claude-x');
      const done = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
      expect(done.response.usage).to.deep.include({ input_tokens: 10, output_tokens: 5 });
      const [row] = await rows(1);
      expect(row).to.include({ prompt_tokens: 10, completion_tokens: 5, quota: 20, stream: true });
    });

    it('round-trips a function tool through Claude (create, then the responses.stream helper)', async () => {
      const first = await openai.responses.create({
        model: 'claude-x',
        input: 'Weather in Paris?',
        tools: [weather],
      });
      const call = first.output.find((o) => o.type === 'function_call')!;
      expect(call).to.include({ name: 'weather', arguments: '{"city":"Paris"}' });
      expect(call.call_id).to.match(/^toolu_/);
      expect(claudeRequests()[0]!.body.tools).to.deep.equal([
        { name: 'weather', description: 'The weather in a city', input_schema: weather.parameters },
      ]);
      const stream = openai.responses.stream({
        model: 'claude-x',
        tools: [weather],
        input: [
          { role: 'user', content: 'Weather in Paris?' },
          ...(first.output as OpenAI.Responses.ResponseInputItem[]),
          { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
        ],
      });
      const second = await stream.finalResponse();
      expect(second.output_text).to.equal('Tool said: sunny');
      const sent = claudeRequests()[1]!.body.messages as { role: string; content: { type: string }[] }[];
      expect(sent.map((m) => [m.role, m.content.map((b) => b.type)])).to.deep.equal([
        ['user', ['text']],
        ['assistant', ['tool_use']],
        ['user', ['tool_result']],
      ]);
      const all = await rows(2);
      expect(all.map((r) => r.quota)).to.deep.equal([20, 20]);
    });

    it('streams a Claude tool call as function_call_arguments events', async () => {
      const stream = openai.responses.stream({ model: 'claude-x', input: 'Weather?', tools: [weather] });
      const deltas: string[] = [];
      stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
      const final = await stream.finalResponse();
      const call = final.output.find((o) => o.type === 'function_call')!;
      expect(call).to.include({ name: 'weather', arguments: '{"city":"Paris"}' });
      expect(deltas.join('')).to.equal('{"city":"Paris"}');
    });
  });

  describe('a Gemini channel', () => {
    let gemini: FakeGemini;
    before(async () => {
      gemini = await startFakeGemini();
    });
    after(async () => {
      await gemini.close();
    });
    beforeEach(async () => {
      gemini.calls.length = 0;
      await startGateway('gemini-2.5-flash');
      await gw.channel({
        name: 'gemini',
        type: 'gemini',
        base_url: gemini.baseUrl('g'),
        key: GEMINI_KEY,
        models: ['gemini-2.5-flash'],
      });
    });
    afterEach(async () => {
      await gw.stop();
    });

    it('answers whole and streamed, with Gemini usage (cached tokens) in the Response, billed exactly', async () => {
      const whole = await openai.responses.create({
        model: 'gemini-2.5-flash',
        instructions: 'Be brief.',
        input: 'hi',
      });
      expect(whole.output_text).to.equal('Hello from Gemini: hi');
      expect(whole.usage).to.deep.include({ input_tokens: 21, output_tokens: 9, total_tokens: 30 });
      expect(whole.usage?.input_tokens_details.cached_tokens).to.equal(6);
      expect(gemini.calls[0]!.body.systemInstruction).to.deep.equal({ parts: [{ text: 'Be brief.' }] });
      const stream = await openai.responses.create({ model: 'gemini-2.5-flash', input: 'hi', stream: true });
      const types: string[] = [];
      let text = '';
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      expect(types[0]).to.equal('response.created');
      expect(text).to.equal('Hello from Gemini: hi');
      expect(completed?.usage).to.deep.include({ input_tokens: 21, output_tokens: 9 });
      const all = await rows(2);
      // 21 input × 1 + 9 output × 2.
      expect(all.map((r) => [r.prompt_tokens, r.completion_tokens, r.quota])).to.deep.equal([
        [21, 9, 39],
        [21, 9, 39],
      ]);
    });

    it('round-trips parallel function calls (streamed, then whole)', async () => {
      const stream = openai.responses.stream({
        model: 'gemini-2.5-flash',
        input: 'Paris?',
        tools: [weather, time],
      });
      const first = await stream.finalResponse();
      const calls = first.output.filter((o) => o.type === 'function_call');
      expect(calls.map((c) => [c.name, c.arguments])).to.deep.equal([
        ['weather', '{"city":"Paris"}'],
        ['local_time', '{"city":"Paris"}'],
      ]);
      expect(new Set(calls.map((c) => c.call_id)).size).to.equal(2);
      const second = await openai.responses.create({
        model: 'gemini-2.5-flash',
        tools: [weather, time],
        input: [
          { role: 'user', content: 'Paris?' },
          ...(first.output as OpenAI.Responses.ResponseInputItem[]),
          { type: 'function_call_output', call_id: calls[0]!.call_id, output: 'sunny' },
          { type: 'function_call_output', call_id: calls[1]!.call_id, output: 'noon' },
        ],
      });
      expect(second.output_text)
        .to.match(/^Results: /)
        .and.to.contain('sunny')
        .and.to.contain('noon');
    });
  });
});
