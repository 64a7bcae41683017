import { StringDecoder } from 'node:string_decoder';
import { UpstreamStreamError } from './adapters/provider-adapter.js';

/** One server-sent event, with its text exactly as it came (for pass-through). */
export interface SseEvent {
  event: string;
  data: string;
  raw: string;
}

/** The largest incomplete event kept while waiting for its end (a guard against a runaway upstream). */
const MAX_PENDING = 8 * 1024 * 1024;

/**
 * Splits an SSE byte stream into whole events (any of the three line endings the format allows),
 * keeping a partial event, and a multi-byte character cut between chunks, for the next push.
 */
export class SseReader {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  push(chunk: Buffer): SseEvent[] {
    this.pending += this.decoder.write(chunk);
    if (this.pending.length > MAX_PENDING) {
      const message = 'An upstream stream event exceeds 8 MB';
      throw new UpstreamStreamError(message, {
        message,
        code: 'stream_event_too_large',
        type: null,
        kind: 'fault',
      });
    }
    const out: SseEvent[] = [];
    const sep = /\r\n\r\n|\n\n|\r\r/g;
    let start = 0;
    for (let m = sep.exec(this.pending); m; m = sep.exec(this.pending)) {
      const end = m.index + m[0].length;
      const ev = parse(this.pending.slice(start, m.index), this.pending.slice(start, end));
      if (ev) out.push(ev);
      start = end;
    }
    this.pending = this.pending.slice(start);
    return out;
  }

  /** What is left at the end of the stream (an event without its blank line still counts). */
  end(): SseEvent[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    const ev = rest.trim() ? parse(rest.replace(/[\r\n]+$/, ''), rest) : undefined;
    return ev ? [ev] : [];
  }
}

function parse(block: string, raw: string): SseEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 && event === 'message') return undefined;
  return { event, data: data.join('\n'), raw };
}
