import { expect } from 'chai';
import OpenAI from 'openai';
import { FAKE_RESPONSES_USAGE } from '../helpers/fake-responses.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { apiError } from '../helpers/openai.js';

/**
 * The fake upstream's Responses API and chat tool calls, driven straight by the official `openai`
 * client (no gateway): what the gateway's tests rely on is what OpenAI's client reads and sends.
 */
describe('fake OpenAI upstream: Responses API and tool calls (official openai client)', function () {
  this.timeout(10_000);
  let fake: FakeUpstream;
  let client: OpenAI;

  const weather: OpenAI.Responses.FunctionTool = {
    type: 'function',
    name: 'weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: true,
  };

  before(async () => {
    fake = await startFakeUpstream();
    client = new OpenAI({ apiKey: 'sk-fake', baseURL: `${fake.baseUrl('f')}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await fake.close();
  });

  it('answers a whole Response that the client reads (output_text, usage)', async () => {
    const r = await client.responses.create({ model: 'gpt-4o', input: 'hi', instructions: 'Be brief.' });
    expect(r.object).to.equal('response');
    expect(r.output_text).to.equal('Hello from f as gpt-4o');
    expect(r.usage).to.deep.equal(FAKE_RESPONSES_USAGE);
    expect(r.instructions).to.equal('Be brief.');
  });

  it('streams the response.* events, which the client accumulates into the final Response', async () => {
    const stream = client.responses.stream({ model: 'gpt-4o', input: 'hi' });
    const types: string[] = [];
    const sequence: number[] = [];
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
    }
    const final = await stream.finalResponse();
    expect(final.output_text).to.equal('Hello from f as gpt-4o');
    expect(types[0]).to.equal('response.created');
    expect(types.at(-1)).to.equal('response.completed');
    expect(types).to.include('response.output_text.delta');
    expect(sequence).to.deep.equal(sequence.map((_, i) => i));
  });

  it('calls the function tool, then answers with its output', async () => {
    const first = await client.responses.create({
      model: 'gpt-4o',
      input: 'Weather in Paris?',
      tools: [weather],
    });
    const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).to.include({ type: 'function_call', name: 'weather', arguments: '{"city":"Paris"}' });
    const second = await client.responses.create({
      model: 'gpt-4o',
      tools: [weather],
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        call,
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
      ],
    });
    expect(second.output_text).to.equal('Hello from f as gpt-4o; the tool said sunny');
  });

  it('is strict like OpenAI: unknown parameters, chat-only stream options and bad items are 400s', async () => {
    const unknown = await apiError(
      client.responses.create({
        model: 'gpt-4o',
        input: 'hi',
        messages: [],
      } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming),
    );
    expect([unknown.status, unknown.message]).to.deep.equal([400, "400 Unknown parameter: 'messages'."]);
    const chatOnly = await apiError(
      client.responses.create({
        model: 'gpt-4o',
        input: 'hi',
        stream: true,
        stream_options: { include_usage: true } as OpenAI.Responses.ResponseCreateParams.StreamOptions,
      }),
    );
    expect(chatOnly.status).to.equal(400);
    expect(chatOnly.message).to.contain('stream_options.include_usage');
    const badItem = await apiError(
      client.responses.create({
        model: 'gpt-4o',
        input: [{ type: 'function_call_output', call_id: 'c' }],
      } as never),
    );
    expect(badItem.status).to.equal(400);
  });

  it('chat: calls the tool (whole and streamed) and enforces OpenAI tool-message order', async () => {
    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'weather', parameters: weather.parameters! } },
    ];
    const whole = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      tools,
    });
    expect(whole.choices[0]!.message.tool_calls![0]).to.deep.include({ id: 'call_fake_1' });
    const stream = client.chat.completions.stream({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      tools,
    });
    const done = await stream.finalChatCompletion();
    const call = done.choices[0]!.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call.function).to.include({ name: 'weather', arguments: '{"city":"Paris"}' });
    const orphan = await apiError(
      client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }],
      }),
    );
    expect(orphan.status).to.equal(400);
    const after = await client.chat.completions.create({
      model: 'm',
      tools,
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      ],
    });
    expect(after.choices[0]!.message.content).to.equal('Hello from f as m; the tool said sunny');
  });
});
