import { expect } from 'chai';
import type OpenAI from 'openai';
import { ResponseStream } from 'openai/lib/responses/ResponseStream';
import { AppError } from '../../lib/errors/app.error.js';
import { responsesFormat } from '../../lib/relay/ingress/responses.format.js';

type Json = Record<string, unknown>;
/** `output_text` is computed by the client itself; the wire object does not carry it. */
type WireResponse = Omit<OpenAI.Responses.Response, 'output_text'>;

const usage = {
  promptTokens: 12,
  completionTokens: 7,
  cachedTokens: 4,
  cacheWriteTokens: 1,
  reasoningTokens: 2,
};

function refusal(body: Json): AppError {
  try {
    responsesFormat.validate({ model: 'm', ...body });
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** Parses SSE text into events, checking that each `event:` line names its data's `type`. */
function events(sse: string): Json[] {
  return sse
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [eventLine, dataLine, ...rest] = block.split('\n');
      expect(rest).to.deep.equal([]);
      expect(eventLine).to.match(/^event: /);
      const data = JSON.parse(dataLine!.replace(/^data: /, '')) as Json;
      expect(data.type).to.equal(eventLine!.slice('event: '.length));
      return data;
    });
}

/** Runs events through the official client's Responses stream accumulator; returns its final Response. */
async function accumulate(evs: Json[]): Promise<OpenAI.Responses.Response> {
  const lines = evs.map((e) => JSON.stringify(e) + '\n').join('');
  const readable = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(lines));
      controller.close();
    },
  });
  return ResponseStream.fromReadableStream(readable).finalResponse();
}

function chunk(delta: Json, finish: string | null = null): Json {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

describe('Responses API format (bridged through chat)', () => {
  describe('request → chat', () => {
    it('takes a string input and instructions', () => {
      const chat = responsesFormat.toChat({
        model: 'gpt-4o',
        instructions: 'Be brief.',
        input: 'hello',
        max_output_tokens: 50,
        temperature: 0.2,
        top_p: 0.9,
        user: 'u-1',
        metadata: { a: 'b' },
        stream: true,
        store: true,
      });
      expect(chat).to.deep.equal({
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hello' },
        ],
        temperature: 0.2,
        top_p: 0.9,
        user: 'u-1',
        stream: true,
        max_completion_tokens: 50,
      });
    });

    it('turns message items, images, files and a function call round trip into chat messages', () => {
      const input: OpenAI.Responses.ResponseInput = [
        { role: 'developer', content: 'Use tools.' },
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is on ' },
            { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' },
            { type: 'input_file', file_data: 'data:application/pdf;base64,AAAA', filename: 'a.pdf' },
          ],
        },
        { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'opaque' },
        {
          type: 'message',
          role: 'assistant',
          id: 'msg_1',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Let me look.', annotations: [] }],
        },
        { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'call_2', name: 'weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'rain' }] },
      ];
      const chat = responsesFormat.toChat({ model: 'm', input });
      expect(chat.messages).to.deep.equal([
        { role: 'system', content: 'Use tools.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is on ' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
            { type: 'file', file: { file_data: 'data:application/pdf;base64,AAAA', filename: 'a.pdf' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: 'rain' },
      ]);
    });

    it('keeps a function call without preceding text as its own assistant message', () => {
      const chat = responsesFormat.toChat({
        model: 'm',
        input: [
          { role: 'user', content: 'hi' },
          { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c', output: '1' },
          { role: 'assistant', content: 'done' },
        ],
      });
      expect(chat.messages).to.deep.equal([
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c', content: '1' },
        { role: 'assistant', content: 'done' },
      ]);
    });

    it('maps function tools, tool_choice, reasoning effort and the text format', () => {
      const schema = { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] };
      const chat = responsesFormat.toChat({
        model: 'm',
        input: 'x',
        tools: [{ type: 'function', name: 'f', description: 'does f', parameters: schema, strict: true }],
        tool_choice: { type: 'function', name: 'f' },
        parallel_tool_calls: false,
        reasoning: { effort: 'low', summary: 'auto' },
        text: { format: { type: 'json_schema', name: 'out', schema, strict: true }, verbosity: 'low' },
      });
      expect(chat.tools).to.deep.equal([
        {
          type: 'function',
          function: { name: 'f', description: 'does f', parameters: schema, strict: true },
        },
      ]);
      expect(chat.tool_choice).to.deep.equal({ type: 'function', function: { name: 'f' } });
      expect(chat.parallel_tool_calls).to.equal(false);
      expect(chat.reasoning_effort).to.equal('low');
      expect(chat.verbosity).to.equal('low');
      expect(chat.response_format).to.deep.equal({
        type: 'json_schema',
        json_schema: { name: 'out', schema, strict: true },
      });
      expect(
        responsesFormat.toChat({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } })
          .response_format,
      ).to.deep.equal({
        type: 'json_object',
      });
      expect(
        responsesFormat.toChat({ model: 'm', input: 'x', tool_choice: 'required' }).tool_choice,
      ).to.equal('required');
    });

    it('accepts what only a native channel serves, but says it cannot be bridged (built-in tools, their items, audio, files by id)', () => {
      const body = {
        model: 'm',
        input: 'x',
        tools: [{ type: 'function', name: 'f' }, { type: 'web_search' }],
        tool_choice: { type: 'web_search' },
      };
      expect(() => responsesFormat.validate(body)).not.to.throw();
      const err = responsesFormat.bridgeProblem(body)!;
      expect(err.status).to.equal(400);
      expect(err.param).to.equal('tools[1].type');
      expect(err.code).to.equal('unsupported_tool');
      expect(err.message)
        .to.contain('"web_search" needs a channel that serves the Responses API natively')
        .and.to.contain('function tools');
      // toChat leaves them out (it is then only used to count the prompt).
      const chat = responsesFormat.toChat(body);
      expect(chat.tools).to.deep.equal([{ type: 'function', function: { name: 'f' } }]);
      expect(chat.tool_choice).to.equal(undefined);
      const nativeOnly = (extra: Json) => responsesFormat.bridgeProblem({ model: 'm', ...extra })?.param;
      expect(nativeOnly({ input: [{ role: 'user', content: [{ type: 'input_audio' }] }] })).to.equal(
        'input[0].content[0].type',
      );
      expect(nativeOnly({ input: [{ role: 'user', content: 'hi' }, { type: 'computer_call' }] })).to.equal(
        'input[1].type',
      );
      expect(
        nativeOnly({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }),
      ).to.equal('input[0].content[0].image_url');
      expect(
        nativeOnly({
          input: [
            { role: 'user', content: 'hi' },
            { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_image', image_url: 'x' }] },
          ],
        }),
      ).to.equal('input[1].output[0]');
      expect(nativeOnly({ input: 'x', tools: [{ type: 'function', name: 'f' }] })).to.equal(undefined);
      // Only native-only items: valid (for a native channel), not bridgeable.
      const onlyNative = { model: 'm', input: [{ type: 'local_shell_call_output', id: 'x', output: 'ok' }] };
      expect(() => responsesFormat.validate(onlyNative)).not.to.throw();
      expect(responsesFormat.bridgeProblem(onlyNative)?.param).to.equal('input[0].type');
    });

    it('refuses what needs stored responses: previous_response_id, conversation, item references, background', () => {
      const prev = refusal({ input: 'x', previous_response_id: 'resp_1' });
      expect([prev.status, prev.param, prev.code]).to.deep.equal([
        400,
        'previous_response_id',
        'unsupported_parameter',
      ]);
      expect(prev.message).to.contain('does not store responses');
      expect(refusal({ input: 'x', conversation: 'conv_1' }).param).to.equal('conversation');
      expect(refusal({ input: 'x', background: true }).param).to.equal('background');
      expect(refusal({ input: [{ type: 'item_reference', id: 'msg_1' }] }).message).to.contain(
        'does not store responses',
      );
      // `store` is OpenAI's default (true): accepted, the answer is just not kept.
      expect(() => responsesFormat.validate({ model: 'm', input: 'x', store: true })).not.to.throw();
    });

    it('refuses malformed input with the field named', () => {
      expect(refusal({}).param).to.equal('input');
      expect(refusal({ input: 42 }).param).to.equal('input');
      expect(refusal({ input: [{ role: 'robot', content: 'x' }] }).param).to.equal('input[0].role');
      expect(
        refusal({ input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: {} }] }).param,
      ).to.equal('input[0].arguments');
      expect(refusal({ input: [{ role: 'user', content: [{ type: 'input_image' }] }] }).param).to.equal(
        'input[0].content[0].image_url',
      );
      expect(refusal({ input: 'x', max_output_tokens: 0 }).param).to.equal('max_output_tokens');
      expect(refusal({ input: 'x', reasoning: { effort: 'max' } }).param).to.equal('reasoning.effort');
      expect(refusal({ input: 'x', text: { format: { type: 'xml' } } }).param).to.equal('text.format.type');
      expect(refusal({ input: 'x', tool_choice: 'sometimes' }).param).to.equal('tool_choice');
      expect(refusal({ input: 'x', tools: [{ type: 'function' }] }).param).to.equal('tools[0].name');
      expect(refusal({ input: 'x', temperature: 'hot' }).param).to.equal('temperature');
    });
  });

  describe('chat completion → Response', () => {
    it('builds the Response object with text, function calls and usage (the official client type)', () => {
      const body = responsesFormat.fromChat(
        {
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1_700_000_000,
          model: 'up',
          choices: [
            {
              index: 0,
              finish_reason: 'tool_calls',
              message: {
                role: 'assistant',
                content: 'Checking.',
                tool_calls: [
                  {
                    id: 'call_9',
                    type: 'function',
                    function: { name: 'weather', arguments: '{"city":"Oslo"}' },
                  },
                ],
              },
            },
          ],
        },
        usage,
        'gpt-4o',
        {
          model: 'gpt-4o',
          input: 'x',
          instructions: 'Be brief.',
          tools: [{ type: 'function', name: 'weather' }],
          temperature: 0.5,
        },
      );
      const typed: WireResponse = body;
      expect(typed.id).to.match(/^resp_[0-9a-f]{48}$/);
      expect(typed.object).to.equal('response');
      expect(typed.status).to.equal('completed');
      expect(typed.model).to.equal('gpt-4o');
      expect(typed.created_at).to.equal(1_700_000_000);
      expect(typed.instructions).to.equal('Be brief.');
      expect(typed.temperature).to.equal(0.5);
      expect(typed.tools).to.deep.equal([
        { type: 'function', name: 'weather', description: null, parameters: null, strict: null },
      ]);
      expect(typed.output).to.have.length(2);
      const [message, call] = typed.output as [
        OpenAI.Responses.ResponseOutputMessage,
        OpenAI.Responses.ResponseFunctionToolCall,
      ];
      expect(message.type).to.equal('message');
      expect(message.id).to.match(/^msg_/);
      expect(message.content).to.deep.equal([
        { type: 'output_text', text: 'Checking.', annotations: [], logprobs: [] },
      ]);
      expect(call).to.include({
        type: 'function_call',
        call_id: 'call_9',
        name: 'weather',
        arguments: '{"city":"Oslo"}',
        status: 'completed',
      });
      expect(call.id).to.match(/^fc_/);
      expect(typed.usage).to.deep.equal({
        input_tokens: 12,
        input_tokens_details: { cached_tokens: 4, cache_write_tokens: 1 },
        output_tokens: 7,
        output_tokens_details: { reasoning_tokens: 2 },
        total_tokens: 19,
      });
    });

    it('is incomplete when the output hit max_output_tokens, and reads chat usage when none is handed over', () => {
      const body = responsesFormat.fromChat(
        {
          choices: [
            { index: 0, finish_reason: 'length', message: { role: 'assistant', content: 'Once upon' } },
          ],
          usage: {
            prompt_tokens: 3,
            completion_tokens: 2,
            total_tokens: 5,
            prompt_tokens_details: { cached_tokens: 1 },
          },
        },
        undefined,
        'm',
      );
      expect(body.status).to.equal('incomplete');
      const withReasoning = responsesFormat.fromChat(
        {
          choices: [
            {
              finish_reason: 'stop',
              message: { role: 'assistant', reasoning_content: 'Hmm.', content: 'Yes.' },
            },
          ],
        },
        usage,
        'm',
      );
      expect(withReasoning.output.map((o) => o.type)).to.deep.equal(['reasoning', 'message']);
      expect(withReasoning.output[0]).to.deep.include({
        content: [{ type: 'reasoning_text', text: 'Hmm.' }],
      });
      expect(body.incomplete_details).to.deep.equal({ reason: 'max_output_tokens' });
      expect(body.usage?.input_tokens_details.cached_tokens).to.equal(1);
      expect(body.usage?.total_tokens).to.equal(5);
    });
  });

  describe('chat stream → response.* events', () => {
    it('emits the documented event sequence for text, numbered from 0, that the official client accumulates', async () => {
      const enc = responsesFormat.streamEncoder('gpt-4o', 'chatcmpl-abc');
      let sse = enc.push(chunk({ role: 'assistant', content: '' }));
      sse += enc.push(chunk({ content: 'Hel' }));
      sse += enc.push(chunk({ content: 'lo' }));
      sse += enc.push(chunk({}, 'stop'));
      sse += enc.end(usage);
      const evs = events(sse);
      expect(evs.map((e) => e.type)).to.deep.equal([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
      expect(evs.map((e) => e.sequence_number)).to.deep.equal(evs.map((_, i) => i));
      const created = evs[0]!.response as WireResponse;
      expect(created.status).to.equal('in_progress');
      expect(created.id).to.equal('resp_abc');
      expect(created.output).to.deep.equal([]);
      expect(evs[6]).to.include({ text: 'Hello', output_index: 0, content_index: 0 });
      const completed = evs.at(-1)!.response as WireResponse;
      expect(completed.status).to.equal('completed');
      expect(completed.usage?.output_tokens).to.equal(7);
      const final = await accumulate(evs);
      expect(final.output_text).to.equal('Hello');
      expect(final.usage?.total_tokens).to.equal(19);
    });

    it('streams function calls (parallel ones included) with argument deltas', async () => {
      const enc = responsesFormat.streamEncoder('m', 'resp_1');
      let sse = enc.push(chunk({ content: 'Let me check.' }));
      sse += enc.push(
        chunk({
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        }),
      );
      sse += enc.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
      sse += enc.push(
        chunk({
          tool_calls: [
            { index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } },
          ],
        }),
      );
      sse += enc.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }));
      sse += enc.push(chunk({}, 'tool_calls'));
      sse += enc.end(undefined);
      const evs = events(sse);
      expect(evs.map((e) => e.type)).to.deep.equal([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ]);
      expect(evs[13]).to.include({ output_index: 1, name: 'weather', arguments: '{"city":"Paris"}' });
      expect(evs[15]).to.include({ output_index: 2, name: 'time', arguments: '{}' });
      const final = await accumulate(evs);
      const calls = final.output.filter((o) => o.type === 'function_call');
      expect(calls.map((c) => [c.call_id, c.name, c.arguments])).to.deep.equal([
        ['call_a', 'weather', '{"city":"Paris"}'],
        ['call_b', 'time', '{}'],
      ]);
      expect(final.output_text).to.equal('Let me check.');
    });

    it('streams reasoning text (reasoning_content) as a reasoning item before the message', async () => {
      const enc = responsesFormat.streamEncoder('m', 'resp_r');
      let sse = enc.push(chunk({ reasoning_content: 'Think' }));
      sse += enc.push(chunk({ reasoning_content: 'ing.' }));
      sse += enc.push(chunk({ content: 'Answer.' }, 'stop'));
      sse += enc.end(usage);
      const evs = events(sse);
      expect(evs.map((e) => e.type).slice(2, 9)).to.deep.equal([
        'response.output_item.added',
        'response.content_part.added',
        'response.reasoning_text.delta',
        'response.reasoning_text.delta',
        'response.reasoning_text.done',
        'response.content_part.done',
        'response.output_item.done',
      ]);
      const final = await accumulate(evs);
      const reasoning = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
      expect(reasoning.type).to.equal('reasoning');
      expect(reasoning.content).to.deep.equal([{ type: 'reasoning_text', text: 'Thinking.' }]);
      expect(final.output_text).to.equal('Answer.');
      expect(final.usage?.output_tokens_details.reasoning_tokens).to.equal(2);
    });

    it('reads usage from a chat usage chunk when the relay hands none over, and marks a cut-off answer incomplete', () => {
      const enc = responsesFormat.streamEncoder('m', 'resp_2');
      let sse = enc.push(chunk({ content: 'a' }, 'length'));
      sse += enc.push({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } });
      sse += enc.end(undefined);
      const last = events(sse).at(-1)!;
      expect(last.type).to.equal('response.incomplete');
      const response = last.response as WireResponse;
      expect(response.incomplete_details).to.deep.equal({ reason: 'max_output_tokens' });
      expect(response.usage?.input_tokens).to.equal(4);
    });

    it('ends a broken stream with an error event and response.failed', () => {
      const enc = responsesFormat.streamEncoder('m', 'resp_3');
      const evs = events(
        enc.push(chunk({ content: 'a' })) + enc.error('upstream went away', 'upstream_error'),
      );
      expect(evs.slice(-2).map((e) => e.type)).to.deep.equal(['error', 'response.failed']);
      expect(evs.at(-2)).to.include({ code: 'upstream_error', message: 'upstream went away' });
      const failed = evs.at(-1)!.response as WireResponse;
      expect(failed.status).to.equal('failed');
      expect(failed.error).to.deep.equal({ code: 'server_error', message: 'upstream went away' });
      expect(enc.end(undefined)).to.equal('');
      // A pass-through's stream (the upstream sent response.created): the error event only.
      const native = events(responsesFormat.streamEncoder('', '').error('cut', 'upstream_error'));
      expect(native).to.deep.equal([
        { type: 'error', sequence_number: 0, code: 'upstream_error', message: 'cut', param: null },
      ]);
    });

    it('starts and completes an empty stream', () => {
      const enc = responsesFormat.streamEncoder('m', 'resp_4');
      expect(events(enc.end(undefined)).map((e) => e.type)).to.deep.equal([
        'response.created',
        'response.in_progress',
        'response.completed',
      ]);
    });
  });

  it('answers errors in the OpenAI shape', () => {
    expect(
      responsesFormat.errorBody({ status: 400, type: 'invalid_request_error', code: 'x', message: 'bad' }),
    ).to.deep.equal({ error: { message: 'bad', type: 'invalid_request_error', param: null, code: 'x' } });
  });
});
