import { StringDecoder } from 'node:string_decoder';

const BOUNDARY = /\r?\n\r?\n/g;

/** Splits SSE text into the `data` of each complete event (multi-line data joined with newlines). */
export class SseEventSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  /** Bytes in; the data of every event completed by them. */
  push(chunk: string | Buffer): string[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: string[] = [];
    let start = 0;
    BOUNDARY.lastIndex = 0;
    for (let m = BOUNDARY.exec(this.pending); m; m = BOUNDARY.exec(this.pending)) {
      const data = dataOf(this.pending.slice(start, m.index));
      if (data !== undefined) out.push(data);
      start = m.index + m[0].length;
    }
    this.pending = this.pending.slice(start);
    return out;
  }

  /** The last event when the text ended without its blank line. */
  end(): string[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    const data = rest.trim() === '' ? undefined : dataOf(rest);
    return data === undefined ? [] : [data];
  }
}

/** The `data` of one event, or undefined when it has none (a comment, an `event:`-only block). */
export function dataOf(event: string): string | undefined {
  let data: string | undefined;
  for (const line of event.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const value = line.slice(5).replace(/^ /, '');
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}
