import {
  UpstreamStreamError,
  type NormalizedUsage,
  type StreamDecoder,
  type StreamOptions,
} from '../provider-adapter.js';
import { CHARS_PER_TOKEN_ESTIMATE } from '../../../billing/token-counter.js';
import { streamErrorInfo } from './anthropic-errors.js';
import { finishReason, normalizeUsage, openAiUsage } from './message-to-chat.js';
import { SseReader, type SseEvent } from '../../sse-reader.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads the usage of a Claude stream: input (and cache) tokens come in `message_start`, output
 * tokens in `message_delta` (whose usage, in newer API versions, repeats the input counts too).
 */
class UsageReader {
  private raw: Json | undefined;
  /** `message_delta` brought the final output count. */
  final = false;

  read(ev: Json): void {
    const u = ev.type === 'message_start' && isObj(ev.message) ? ev.message.usage : ev.usage;
    if (!isObj(u)) return;
    if (ev.type === 'message_delta') this.final = true;
    this.raw = {
      ...this.raw,
      ...Object.fromEntries(Object.entries(u).filter(([, v]) => typeof v === 'number')),
    };
  }

  get usage(): NormalizedUsage | undefined {
    return normalizeUsage(this.raw);
  }
}

/** Base of both decoders: SSE framing, `error` events, the end-of-stream check. */
abstract class ClaudeStream implements StreamDecoder {
  protected readonly reader = new SseReader();
  protected readonly usageReader = new UsageReader();
  /** The text and tool input delivered so far (up to `keepText` characters). */
  protected text = '';
  protected stopped = false;
  /** An `error` event seen after other events of the same chunk: thrown on the next call. */
  private pendingError: UpstreamStreamError | undefined;

  constructor(protected readonly keepText: number) {}

  get pendingFailure(): unknown {
    return this.pendingError;
  }

  /**
   * The input counts of `message_start` and the output count of `message_delta`. A stream cut
   * before `message_delta` has only the input counts: its output is estimated from the delivered
   * text (a token per {@link CHARS_PER_TOKEN_ESTIMATE} characters; this getter cannot wait for
   * the tokenizer, which yields to the event loop).
   */
  get usage(): NormalizedUsage | undefined {
    const u = this.usageReader.usage;
    if (!u || this.usageReader.final || this.keepText === 0) return u;
    const estimate = Math.ceil(this.text.length / CHARS_PER_TOKEN_ESTIMATE);
    return { ...u, completionTokens: Math.max(u.completionTokens, estimate) };
  }

  /** `message_delta` brought the output count: the usage is the whole answer's. */
  get usageFinal(): boolean {
    return this.usageReader.final;
  }

  /** What the relay counts locally when no usage came at all (as OpenAI chunk events). */
  abstract readonly delivered: string;

  push(chunk: Buffer): string {
    if (this.pendingError) throw this.pendingError;
    return this.events(this.reader.push(chunk));
  }

  end(): string {
    if (this.pendingError) throw this.pendingError;
    const out = this.events(this.reader.end());
    if (this.pendingError) throw this.pendingError;
    if (!this.stopped) {
      const message = 'The upstream stream ended before message_stop';
      throw new UpstreamStreamError(message, {
        message,
        code: 'stream_truncated',
        type: null,
        kind: 'fault',
      });
    }
    return out;
  }

  private events(events: SseEvent[]): string {
    let out = '';
    for (const ev of events) {
      if (ev.event === 'ping') {
        out += this.ping(ev);
        continue;
      }
      if (ev.event === 'error') {
        const info = streamErrorInfo(ev.data);
        const err = new UpstreamStreamError(info.message, info);
        if (out === '') throw err;
        this.pendingError = err; // send what came before it first
        return out;
      }
      let data: unknown;
      try {
        data = JSON.parse(ev.data);
      } catch {
        const message = `The upstream sent an unreadable ${ev.event} event`;
        throw new UpstreamStreamError(message, {
          message,
          code: 'bad_stream_event',
          type: null,
          kind: 'fault',
        });
      }
      if (!isObj(data)) continue;
      if (data.type === 'message_start' || data.type === 'message_delta') this.usageReader.read(data);
      if (data.type === 'message_stop') this.stopped = true;
      out += this.event(data, ev);
    }
    return out;
  }

  protected keep(s: string): void {
    if (this.text.length < this.keepText) this.text += s.slice(0, this.keepText - this.text.length);
  }

  /** The client's bytes for one event. */
  protected abstract event(data: Json, ev: SseEvent): string;

  /** The client's bytes for a keep-alive `ping`. */
  protected abstract ping(ev: SseEvent): string;
}

/** A `/v1/messages` pass-through: Claude's events go to the client as they came, byte for byte. */
export class PassThroughStream extends ClaudeStream {
  // Claude's events are not OpenAI's: nothing here for the relay's counter (usage always comes first).
  readonly delivered = '';

  protected event(data: Json, ev: SseEvent): string {
    if (data.type === 'content_block_delta' && isObj(data.delta)) {
      const d = data.delta;
      if (typeof d.text === 'string') this.keep(d.text);
      else if (typeof d.partial_json === 'string') this.keep(d.partial_json);
    }
    return ev.raw;
  }

  protected ping(ev: SseEvent): string {
    return ev.raw;
  }
}

/**
 * A Claude stream as OpenAI `chat.completion.chunk` events: text deltas to `content`, thinking to
 * `reasoning_content`, each `tool_use` block to the next `tool_calls` index (its
 * `input_json_delta`s to `arguments`), `message_delta`'s stop reason to `finish_reason`; at
 * `message_stop` the usage chunk (when the client asked) and `[DONE]`.
 */
export class TranslatedStream extends ClaudeStream {
  private readonly created = Math.floor(Date.now() / 1000);
  /** Claude block index → OpenAI tool call index (or -1: the `response_format` tool, sent as content). */
  private readonly toolIndex = new Map<number, number>();
  private tools = 0;
  private sawJsonTool = false;
  private sent = '';

  /** The chunk events sent so far (up to `keepText` characters), for counting locally. */
  get delivered(): string {
    return this.sent;
  }

  override push(chunk: Buffer): string {
    return this.kept(super.push(chunk));
  }

  override end(): string {
    return this.kept(super.end());
  }

  private kept(out: string): string {
    if (out && this.sent.length < this.keepText) this.sent += out.slice(0, this.keepText - this.sent.length);
    return out;
  }

  constructor(
    private readonly opts: StreamOptions,
    private readonly jsonTool: string | undefined,
  ) {
    super(opts.keepText);
  }

  private chunk(delta: Json, finish: string | null = null): string {
    const c = {
      id: this.opts.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.opts.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    return `data: ${JSON.stringify(c)}\n\n`;
  }

  protected ping(): string {
    return ''; // OpenAI clients have no such event
  }

  protected event(data: Json): string {
    switch (data.type) {
      case 'message_start':
        return this.chunk({ role: 'assistant', content: '' });
      case 'content_block_start': {
        const block = data.content_block;
        const index = typeof data.index === 'number' ? data.index : -1;
        if (!isObj(block)) return '';
        if (block.type === 'tool_use') {
          if (this.jsonTool !== undefined && block.name === this.jsonTool) {
            this.toolIndex.set(index, -1);
            this.sawJsonTool = true;
            return '';
          }
          const at = this.tools++;
          this.toolIndex.set(index, at);
          this.keep(String(block.name));
          return this.chunk({
            tool_calls: [
              { index: at, id: block.id, type: 'function', function: { name: block.name, arguments: '' } },
            ],
          });
        }
        if (block.type === 'text' && typeof block.text === 'string' && block.text) {
          this.keep(block.text);
          return this.chunk({ content: block.text });
        }
        return '';
      }
      case 'content_block_delta': {
        const d = data.delta;
        if (!isObj(d)) return '';
        if (d.type === 'text_delta' && typeof d.text === 'string') {
          this.keep(d.text);
          return this.chunk({ content: d.text });
        }
        if (d.type === 'thinking_delta' && typeof d.thinking === 'string')
          return this.chunk({ reasoning_content: d.thinking });
        if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
          const at = this.toolIndex.get(typeof data.index === 'number' ? data.index : -2);
          if (at === undefined || d.partial_json === '') return '';
          this.keep(d.partial_json);
          if (at === -1) return this.chunk({ content: d.partial_json });
          return this.chunk({ tool_calls: [{ index: at, function: { arguments: d.partial_json } }] });
        }
        return ''; // signature_delta, citations_delta
      }
      case 'message_delta': {
        const d = isObj(data.delta) ? data.delta : {};
        if (!('stop_reason' in d) || d.stop_reason === null) return '';
        const finish =
          this.sawJsonTool && d.stop_reason === 'tool_use' ? 'stop' : finishReason(d.stop_reason);
        return this.chunk({}, finish);
      }
      case 'message_stop': {
        const usage = this.usage;
        let out = '';
        if (this.opts.clientWantsUsage && usage) {
          const c = {
            id: this.opts.id,
            object: 'chat.completion.chunk',
            created: this.created,
            model: this.opts.model,
            choices: [],
            usage: openAiUsage(usage),
          };
          out += `data: ${JSON.stringify(c)}\n\n`;
        }
        return out + 'data: [DONE]\n\n';
      }
      default:
        return ''; // content_block_stop, and event types added later
    }
  }
}
