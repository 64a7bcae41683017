import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';

export interface UpstreamTimeouts {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

export type UpstreamResponse = Dispatcher.ResponseData;

/** How an attempt that got no usable answer failed; decides whether another channel is tried. */
export type TransportFailure = 'connect' | 'timeout' | 'reset' | 'aborted';

/** Classifies an error thrown by undici while sending or reading. */
export function classifyTransportError(err: unknown): TransportFailure {
  if (err instanceof undiciErrors.RequestAbortedError || (err as { name?: string })?.name === 'AbortError') return 'aborted';
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect';
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return 'timeout';
  const code = (err as { code?: string })?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH') return 'connect';
  return 'reset';
}

/**
 * The keep-alive HTTP client for upstream calls: one undici Agent (a pool per origin), so a
 * relay reuses connections instead of opening one per request. Bodies are streamed, never
 * buffered here.
 */
export class UpstreamClient {
  private readonly agent: Agent;

  constructor(timeouts: UpstreamTimeouts) {
    this.agent = new Agent({
      connect: { timeout: timeouts.connectTimeoutMs },
      headersTimeout: timeouts.firstByteTimeoutMs,
      bodyTimeout: timeouts.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 256,
      pipelining: 1,
    });
  }

  send(req: UpstreamRequest): Promise<UpstreamResponse> {
    return request(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      dispatcher: this.agent,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
