import { expect } from 'chai';
import { estimateMessagesTokens, IMAGE_TOKENS } from '../../lib/relay/ingress/messages-count.js';
import { MessagesFormat } from '../../lib/relay/ingress/messages.format.js';

const format = new MessagesFormat();

/** The events of an Anthropic SSE text, as [event, data] pairs. */
function events(text: string): [string, any][] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const [e, d] = block.split('\n');
      expect(e).to.match(/^event: /);
      const data = JSON.parse(d!.slice(6));
      expect(data.type).to.equal(e!.slice(7));
      return [e!.slice(7), data];
    });
}

describe('/v1/messages format', () => {
  describe('validate', () => {
    it('accepts a minimal request and keeps unknown fields', () => {
      expect(() =>
        format.validate({
          model: 'm',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
          future: 1,
        }),
      ).not.to.throw();
    });

    it('refuses a bad request with a 400 naming the field', () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, 'model'],
        [{ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, 'max_tokens'],
        [{ model: 'm', max_tokens: 5, messages: [] }, 'messages'],
        [{ model: 'm', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, 'messages.0.role'],
        [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
        [
          { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], temperature: 2 },
          'temperature',
        ],
        [
          {
            model: 'm',
            max_tokens: 5,
            messages: [{ role: 'user', content: 'x' }],
            tool_choice: { type: 'required' },
          },
          'tool_choice.type',
        ],
      ];
      for (const [body, param] of cases) {
        let err: any;
        try {
          format.validate(body);
        } catch (e) {
          err = e;
        }
        expect(err, param).to.include({ status: 400, param });
        expect(err.message).to.contain(param);
      }
    });
  });

  describe('toChat', () => {
    it('system, content blocks, images, tool_use/tool_result, tools, tool_choice, stop, thinking, user', () => {
      const chat = format.toChat({
        model: 'gpt-4o',
        max_tokens: 100,
        system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
              { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hm', signature: 's' },
              { type: 'text', text: 'calling' },
              { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] },
              { type: 'text', text: 'thanks' },
            ],
          },
        ],
        tools: [{ name: 'weather', description: 'W', input_schema: { type: 'object', properties: {} } }],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        stop_sequences: ['END'],
        temperature: 0.5,
        top_p: 0.9,
        top_k: 5,
        thinking: { type: 'enabled', budget_tokens: 10_000 },
        metadata: { user_id: 'u-1' },
        stream: true,
      });
      expect(chat).to.deep.equal({
        model: 'gpt-4o',
        max_tokens: 100,
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
              { type: 'image_url', image_url: { url: 'https://x/y.png' } },
            ],
          },
          {
            role: 'assistant',
            content: 'calling',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
          { role: 'user', content: 'thanks' },
        ],
        tools: [
          {
            type: 'function',
            function: { name: 'weather', description: 'W', parameters: { type: 'object', properties: {} } },
          },
        ],
        tool_choice: 'required',
        parallel_tool_calls: false,
        stop: ['END'],
        temperature: 0.5,
        top_p: 0.9,
        reasoning_effort: 'medium',
        user: 'u-1',
        stream: true,
        stream_options: { include_usage: true },
      });
    });

    it('tool_choice tool and none; server tools left out', () => {
      const base = {
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ name: 'f', input_schema: {} }],
      };
      expect(format.toChat({ ...base, tool_choice: { type: 'tool', name: 'f' } }).tool_choice).to.deep.equal({
        type: 'function',
        function: { name: 'f' },
      });
      expect(format.toChat({ ...base, tool_choice: { type: 'none' } }).tool_choice).to.equal('none');
      // Server tools run only at Anthropic: a bridged request goes without them.
      const bridged = format.toChat({
        ...base,
        tools: [
          { name: 'f', input_schema: {} },
          { type: 'web_search_20250305', name: 'web_search' },
        ],
      });
      expect((bridged.tools as any[]).map((t) => t.function.name)).to.deep.equal(['f']);
    });
  });

  describe('fromChat', () => {
    it('a completion with text and tool calls, usage split back into Claude counts', () => {
      const msg: any = format.fromChat(
        {
          id: 'chatcmpl-1',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: 'Sure.',
                tool_calls: [
                  { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
                ],
              },
              finish_reason: 'tool_calls',
            },
          ],
        },
        { promptTokens: 100, completionTokens: 7, cachedTokens: 30, cacheWriteTokens: 20 },
        'my-model',
      );
      expect(msg).to.deep.equal({
        id: 'msg_chatcmpl-1',
        type: 'message',
        role: 'assistant',
        model: 'my-model',
        content: [
          { type: 'text', text: 'Sure.' },
          { type: 'tool_use', id: 'call_1', name: 'f', input: { a: 1 } },
        ],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: {
          input_tokens: 50,
          output_tokens: 7,
          cache_creation_input_tokens: 20,
          cache_read_input_tokens: 30,
        },
      });
      for (const [finish, stop] of [
        ['stop', 'end_turn'],
        ['length', 'max_tokens'],
        ['content_filter', 'refusal'],
      ]) {
        const m: any = format.fromChat(
          { choices: [{ message: { content: 'x' }, finish_reason: finish }] },
          undefined,
          'm',
        );
        expect(m.stop_reason).to.equal(stop);
      }
    });

    it('error bodies in Anthropic shape', () => {
      expect(
        format.errorBody({ status: 429, type: 'rate_limit_error', code: 'x', message: 'slow' }),
      ).to.deep.equal({
        type: 'error',
        error: { type: 'rate_limit_error', message: 'slow' },
      });
      const types = [400, 401, 403, 404, 413, 500, 503].map(
        (status) => (format.errorBody({ status, type: 't', code: null, message: 'm' }) as any).error.type,
      );
      expect(types).to.deep.equal([
        'invalid_request_error',
        'authentication_error',
        'permission_error',
        'not_found_error',
        'request_too_large',
        'api_error',
        'api_error',
      ]);
    });
  });

  describe('stream encoder', () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });

    it('text, reasoning and two tool calls as content blocks with the right indices, usage at the end', () => {
      const enc = format.streamEncoder('my-model', 'chatcmpl-9');
      let out = '';
      out += enc.push(chunk({ role: 'assistant', content: '' }));
      out += enc.push(chunk({ reasoning_content: 'thinking…' }));
      out += enc.push(chunk({ content: 'Hel' }));
      out += enc.push(chunk({ content: 'lo' }));
      out += enc.push(
        chunk({
          tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }],
        }),
      );
      out += enc.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] }));
      out += enc.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }));
      out += enc.push(
        chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'g', arguments: '{}' } }] }),
      );
      out += enc.push(chunk({}, 'tool_calls'));
      out += enc.push({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4 } });
      out += enc.end({ promptTokens: 12, completionTokens: 6, cachedTokens: 2, cacheWriteTokens: 0 });
      const evs = events(out);
      expect(evs.map(([e, d]) => (d.index === undefined ? e : `${e}:${d.index}`))).to.deep.equal([
        'message_start',
        'content_block_start:0',
        'content_block_delta:0',
        'content_block_stop:0',
        'content_block_start:1',
        'content_block_delta:1',
        'content_block_delta:1',
        'content_block_stop:1',
        'content_block_start:2',
        'content_block_delta:2',
        'content_block_delta:2',
        'content_block_stop:2',
        'content_block_start:3',
        'content_block_delta:3',
        'content_block_stop:3',
        'message_delta',
        'message_stop',
      ]);
      expect(evs[0]![1].message).to.include({ id: 'msg_chatcmpl-9', model: 'my-model', role: 'assistant' });
      expect(evs[1]![1].content_block.type).to.equal('thinking');
      expect(evs[8]![1].content_block).to.deep.equal({
        type: 'tool_use',
        id: 'call_a',
        name: 'f',
        input: {},
      });
      expect(evs[9]![1].delta).to.deep.equal({ type: 'input_json_delta', partial_json: '{"x":' });
      expect(evs[15]![1]).to.deep.equal({
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: {
          input_tokens: 10,
          output_tokens: 6,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 2,
        },
      });
    });

    it('an empty stream still opens and closes; errors as Anthropic error events', () => {
      const enc = format.streamEncoder('m', 'x');
      expect(events(enc.end(undefined)).map(([e]) => e)).to.deep.equal([
        'message_start',
        'message_delta',
        'message_stop',
      ]);
      expect(events(enc.error('Upstream gone', 'upstream_error'))).to.deep.equal([
        ['error', { type: 'error', error: { type: 'api_error', message: 'Upstream gone' } }],
      ]);
    });
  });

  describe('count_tokens estimate', () => {
    it('counts text, tools and images, and grows with the prompt', async () => {
      const small = await estimateMessagesTokens({ messages: [{ role: 'user', content: 'hello' }] });
      const big = await estimateMessagesTokens({
        system: 'You are a helpful assistant.',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hello '.repeat(50) },
              { type: 'image', source: { type: 'url', url: 'https://x' } },
            ],
          },
        ],
        tools: [{ name: 'f', input_schema: { type: 'object' } }],
      });
      expect(small).to.be.within(2, 10);
      expect(big).to.be.greaterThan(small + IMAGE_TOKENS + 50);
    });
  });
});
