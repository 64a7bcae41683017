import { expect } from 'chai';
import OpenAI from 'openai';
import { GEMINI_KEY, startFakeGemini, type FakeGemini } from '../helpers/fake-gemini.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

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

  async function rows(n: number) {
    let data: any[] = [];
    await waitFor(
      async () => {
        data = (await gw.admin('GET', `/api/logs?token_id=${tokenId}&type=consume`)).body.data;
        return data.length >= n;
      },
      3000,
      `${n} usage rows`,
    );
    return data;
  }

  async function startGateway(model: string) {
    gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false', QUOTA_RESERVE_TOKENS: '0' } });
    // $2 / $4 per 1M: 1 unit per input token (cached ones too), 2 per output token.
    const price = { input: 2, output: 4, cached_input: 2 };
    expect((await gw.admin('PUT', `/api/prices/${model}`, price)).status).to.equal(200);
    const token = await gw.token({ quota: 1000 });
    tokenId = token.id;
    openai = new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  }

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
