import type { ServerResponse } from 'node:http';
import type { DecodedAnswer, NormalizedUsage } from './adapters/provider-adapter.js';
import type { IngressFormat, IngressStreamEncoder } from './ingress/ingress-format.js';
import { SseReader } from './sse-reader.js';

/**
 * Where an answer goes: status, headers and bytes to the client. The relay writes OpenAI-shaped
 * answers (or a pass-through's native ones); a bridged ingress request's sink translates them
 * into its own format on the way.
 */
export interface ClientSink {
  readonly res: ServerResponse;
  /** A whole answer. */
  whole(status: number, answer: DecodedAnswer): void;
  /** The answer's stream starts: status 200 and the SSE headers. */
  start(): void;
  /** Stream bytes as the decoder made them; false: wait for the response's `drain`. */
  write(chunk: string | Buffer): boolean;
  /** The stream ended normally. */
  end(usage: NormalizedUsage | undefined): void;
  /** The stream broke after it started: an error event, then the end. */
  fail(message: string, code: string): void;
}

function startSse(res: ServerResponse): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('x-accel-buffering', 'no');
}

/** Writes answers as they are: OpenAI's formats, or a native pass-through's. */
export class DirectSink implements ClientSink {
  constructor(
    readonly res: ServerResponse,
    /** The ingress format of a native pass-through: a broken stream ends with its error event. */
    private readonly native?: IngressFormat,
  ) {}

  whole(status: number, answer: DecodedAnswer): void {
    this.res.statusCode = status;
    this.res.setHeader('content-type', answer.contentType);
    this.res.setHeader('content-length', Buffer.byteLength(answer.body));
    this.res.end(answer.body);
  }

  start(): void {
    startSse(this.res);
  }

  write(chunk: string | Buffer): boolean {
    return this.res.write(chunk);
  }

  end(): void {
    this.res.end();
  }

  fail(message: string, code: string): void {
    if (this.native) {
      this.res.end(this.native.streamEncoder('', '').error(message, code));
      return;
    }
    const event = { error: { message, type: 'upstream_error', param: null, code } };
    this.res.write(`data: ${JSON.stringify(event)}\n\n`);
    this.res.end();
  }
}

/** Translates OpenAI chat answers (whole and streamed) into an ingress format (Anthropic messages, Responses). */
export class BridgeSink implements ClientSink {
  private readonly events = new SseReader();
  private encoder: IngressStreamEncoder | undefined;

  constructor(
    readonly res: ServerResponse,
    private readonly format: IngressFormat,
    private readonly model: string,
    private readonly id: string,
    /** The client's body (a format may echo its settings in the answer). */
    private readonly request?: Record<string, unknown>,
  ) {}

  whole(status: number, answer: DecodedAnswer): void {
    const json = answer.json ?? (JSON.parse(answer.body.toString()) as Record<string, unknown>);
    const body = JSON.stringify(this.format.fromChat(json, answer.usage, this.model, this.request));
    this.res.statusCode = status;
    this.res.setHeader('content-type', 'application/json');
    this.res.setHeader('content-length', Buffer.byteLength(body));
    this.res.end(body);
  }

  start(): void {
    startSse(this.res);
    this.encoder = this.format.streamEncoder(this.model, this.id, this.request);
  }

  write(chunk: string | Buffer): boolean {
    let out = '';
    for (const { data } of this.events.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
      if (data === '[DONE]') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        continue; // not an event the bridge can translate
      }
      if (parsed && typeof parsed === 'object') out += this.encoder!.push(parsed as Record<string, unknown>);
    }
    return out === '' ? true : this.res.write(out);
  }

  end(usage: NormalizedUsage | undefined): void {
    this.res.end(this.encoder!.end(usage));
  }

  fail(message: string, code: string): void {
    this.res.end(this.encoder!.error(message, code));
  }
}
