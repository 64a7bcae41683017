import { StringDecoder } from 'node:string_decoder';
import type { Endpoint, NormalizedUsage, StreamDecoder } from '../provider-adapter.js';
import { openAiUsage, type OpenAiUsage } from './openai-wire.js';

const BOUNDARY = /\r?\n\r?\n/g;

/**
 * Passes an upstream SSE stream through event by event, as the bytes arrive. On the way it
 * reads the `usage` an upstream sends when asked for `stream_options.include_usage`, and when
 * the client did not ask for it, drops that extra usage-only chunk (OpenAI sends it with an
 * empty `choices`), so the client sees exactly what it would have seen from OpenAI. The
 * Responses API's `response.completed` event carries its usage under `response`.
 */
export class SseUsageFilter implements StreamDecoder {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  usage: NormalizedUsage | undefined;
  /**
   * The usage came in OpenAI's closing usage chunk (empty `choices`) or the Responses API's
   * `response.completed`: the whole answer's. Usage on chunks that carry choices (an upstream
   * reporting a running count on every chunk) is not.
   */
  usageFinal = false;
  /** True once a `data: [DONE]` event passed. */
  done = false;
  /** The events forwarded so far (up to `keepBytes` characters), to count their tokens when no usage comes. */
  delivered = '';

  constructor(
    private readonly dropUsageChunk: boolean,
    private readonly keepBytes = 0,
    private readonly endpoint: Endpoint = 'chat',
  ) {}

  /** Feeds bytes; returns the complete events to forward now ('' when none is complete yet). */
  push(chunk: Buffer | string): string {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let out = '';
    let start = 0;
    BOUNDARY.lastIndex = 0;
    for (let m = BOUNDARY.exec(this.pending); m; m = BOUNDARY.exec(this.pending)) {
      const end = m.index + m[0].length;
      const event = this.pending.slice(start, end);
      if (this.keep(event)) out += event;
      start = end;
    }
    this.pending = this.pending.slice(start);
    if (out && this.delivered.length < this.keepBytes) this.delivered += out;
    return out;
  }

  /** What is left when the upstream ends (an unterminated last event). */
  end(): string {
    this.pending += this.decoder.end();
    const rest = this.pending;
    this.pending = '';
    const out = rest.trim() === '' ? '' : this.keep(rest) ? rest : '';
    if (out && this.delivered.length < this.keepBytes) this.delivered += out;
    return out;
  }

  private keep(event: string): boolean {
    if (event.includes('data: [DONE]') || event.includes('data:[DONE]')) {
      this.done = true;
      return true;
    }
    if (!event.includes('"usage"')) return true;
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    try {
      const json = JSON.parse(data) as {
        usage?: OpenAiUsage | null;
        choices?: unknown[];
        response?: { usage?: OpenAiUsage | null };
      };
      const usage = json.usage ?? json.response?.usage;
      if (usage) {
        this.usage = openAiUsage(usage, this.endpoint);
        this.usageFinal = !json.usage || (Array.isArray(json.choices) && json.choices.length === 0);
      }
      if (json.usage) {
        if (this.dropUsageChunk && Array.isArray(json.choices) && json.choices.length === 0) return false;
      }
    } catch {
      // Not JSON: forward as it is; the client will judge.
    }
    return true;
  }
}
