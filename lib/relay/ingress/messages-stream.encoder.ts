import type { NormalizedUsage } from '../adapters/provider-adapter.js';
import type { IngressStreamEncoder } from './ingress-format.js';
import { claudeUsage, stopReason } from './messages-wire.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const event = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

type Open = { kind: 'text' | 'thinking' } | { kind: 'tool'; toolIndex: number };

/**
 * OpenAI `chat.completion.chunk` objects as Claude's stream: `message_start`, then one content
 * block per run of text, of reasoning (a `thinking` block), and per tool call (`tool_use` with
 * `input_json_delta`s), each opened with `content_block_start` and closed with
 * `content_block_stop`; at the end `message_delta` (stop reason and the usage: input, output and
 * cache counts) and `message_stop`.
 */
export class MessagesStreamEncoder implements IngressStreamEncoder {
  private started = false;
  private next = 0;
  private open: (Open & { index: number }) | undefined;
  /** OpenAI tool call index → Claude block index. */
  private readonly tools = new Map<number, number>();
  private stop: string | undefined;
  private chunkUsage: NormalizedUsage | undefined;

  constructor(
    private readonly model: string,
    private readonly id: string,
  ) {}

  private start(): string {
    if (this.started) return '';
    this.started = true;
    return event('message_start', {
      message: {
        id: this.id,
        type: 'message',
        role: 'assistant',
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // OpenAI-compatible upstreams report usage at the end: the counts come in message_delta.
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private close(): string {
    if (!this.open) return '';
    const out = event('content_block_stop', { index: this.open.index });
    this.open = undefined;
    return out;
  }

  /** Makes sure a text or thinking block is the open one. */
  private ensure(kind: 'text' | 'thinking'): string {
    if (this.open?.kind === kind) return '';
    const out = this.close();
    const index = this.next++;
    this.open = { kind, index };
    const block =
      kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    return out + event('content_block_start', { index, content_block: block });
  }

  push(chunk: Record<string, unknown>): string {
    let out = this.start();
    const u = chunk.usage;
    if (isObj(u)) {
      const details = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
      this.chunkUsage = {
        promptTokens: Number(u.prompt_tokens) || 0,
        completionTokens: Number(u.completion_tokens) || 0,
        cachedTokens: Number(details.cached_tokens) || 0,
        cacheWriteTokens: 0,
      };
    }
    const choice = Array.isArray(chunk.choices) && isObj(chunk.choices[0]) ? chunk.choices[0] : undefined;
    if (!choice) return out;
    const delta = isObj(choice.delta) ? choice.delta : {};
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
      out += this.ensure('thinking');
      out += event('content_block_delta', {
        index: this.open!.index,
        delta: { type: 'thinking_delta', thinking: delta.reasoning_content },
      });
    }
    if (typeof delta.content === 'string' && delta.content) {
      out += this.ensure('text');
      out += event('content_block_delta', {
        index: this.open!.index,
        delta: { type: 'text_delta', text: delta.content },
      });
    }
    for (const tc of Array.isArray(delta.tool_calls) ? (delta.tool_calls as Json[]) : []) {
      const toolIndex = typeof tc.index === 'number' ? tc.index : 0;
      const fn = isObj(tc.function) ? tc.function : {};
      let index = this.tools.get(toolIndex);
      if (index === undefined) {
        out += this.close();
        index = this.next++;
        this.tools.set(toolIndex, index);
        this.open = { kind: 'tool', toolIndex, index };
        const id = typeof tc.id === 'string' && tc.id ? tc.id : `toolu_${this.id}_${toolIndex}`;
        out += event('content_block_start', {
          index,
          content_block: {
            type: 'tool_use',
            id,
            name: typeof fn.name === 'string' ? fn.name : '',
            input: {},
          },
        });
      }
      if (typeof fn.arguments === 'string' && fn.arguments)
        out += event('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: fn.arguments },
        });
    }
    if (typeof choice.finish_reason === 'string') this.stop = stopReason(choice.finish_reason);
    return out;
  }

  end(usage: NormalizedUsage | undefined): string {
    const out = this.start() + this.close();
    return (
      out +
      event('message_delta', {
        delta: { stop_reason: this.stop ?? 'end_turn', stop_sequence: null },
        usage: claudeUsage(usage ?? this.chunkUsage),
      }) +
      event('message_stop', {})
    );
  }

  error(message: string, code: string): string {
    const type = /overload/i.test(code)
      ? 'overloaded_error'
      : /rate_limit/i.test(code)
        ? 'rate_limit_error'
        : /timeout/i.test(code)
          ? 'timeout_error'
          : 'api_error';
    return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;
  }
}
