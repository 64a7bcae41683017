import type { IncomingHttpHeaders } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { UpstreamPolicy } from './upstream-policy.js';
import { UpstreamError } from '../errors/upstream.error.js';

export interface UpstreamTimeouts {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface UpstreamRequest {
  /** POST unless said otherwise. */
  method?: 'GET' | 'POST';
  /** `http(s)://host:port` */
  origin: string;
  /** Path and query, from `/`. */
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** How an attempt that got no usable answer failed; decides whether another channel is tried. */
export type TransportFailure = 'connect' | 'timeout' | 'reset' | 'aborted' | 'budget';

/** Classifies an error raised by undici while sending or reading. */
export function classifyTransportError(err: unknown): TransportFailure {
  if (err instanceof undiciErrors.RequestAbortedError || (err as { name?: string })?.name === 'AbortError')
    return 'aborted';
  if (err instanceof ClientGoneError) return 'aborted';
  if (err instanceof BudgetSpentError) return 'budget';
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect';
  if (
    err instanceof FirstByteTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  )
    return 'timeout';
  const code = (err as { code?: string })?.code;
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH' ||
    code === 'EUPSTREAMDENIED'
  )
    return 'connect';
  return 'reset';
}

/** The reason given when the gateway's own client went away. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGoneError';
  }
}

/** The reason given when an upstream's response headers did not come in time. */
export class FirstByteTimeoutError extends Error {
  constructor(ms: number) {
    super(`no response headers within ${ms} ms`);
    this.name = 'FirstByteTimeoutError';
  }
}

/** The reason given when the request's total budget (UPSTREAM_TOTAL_TIMEOUT_MS) ran out. */
export class BudgetSpentError extends Error {
  constructor() {
    super("the request's total upstream budget ran out");
    this.name = 'BudgetSpentError';
  }
}

/**
 * One upstream request/response, driven by undici's dispatch handler API: no stream objects and
 * no promise per chunk on the hot path. The answer's body is taken either whole
 * ({@link collect}) or chunk by chunk with back-pressure ({@link pipe}).
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};

  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private started!: { resolve: () => void; reject: (err: Error) => void };
  readonly response: Promise<void>;
  private sink: ((chunk: Buffer) => boolean) | undefined;
  private queued: Buffer[] = [];
  private finished: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private ended = false;
  private failure: Error | undefined;
  // One timer serves both limits: the first byte, and the budget that runs until commit().
  private timer: NodeJS.Timeout | undefined;
  private firstByteAt = Infinity;
  private firstByteMs = 0;
  private budgetAt = Infinity;
  private gotHeaders = false;
  private committed = false;

  constructor() {
    this.response = new Promise((resolve, reject) => (this.started = { resolve, reject }));
  }

  /**
   * Aborts the exchange unless its response headers arrive within `firstByteMs`, and unless it
   * is committed ({@link commit}) within `budgetMs`. undici's own headersTimeout runs on its
   * coarse timers (about half a second of slack); these are exact.
   */
  arm(firstByteMs: number, budgetMs?: number): void {
    const now = Date.now();
    this.firstByteMs = firstByteMs;
    this.firstByteAt = now + firstByteMs;
    if (budgetMs !== undefined) this.budgetAt = now + budgetMs;
    this.schedule(now);
  }

  /** The answer started reaching the client: the budget no longer applies. */
  commit(): void {
    this.committed = true;
    this.clearTimer();
  }

  private schedule(now: number): void {
    const at = Math.min(
      this.gotHeaders ? Infinity : this.firstByteAt,
      this.committed ? Infinity : this.budgetAt,
    );
    if (at !== Infinity) this.timer = setTimeout(this.onTimer, Math.max(1, at - now));
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    const now = Date.now();
    if (!this.committed && now >= this.budgetAt) this.abort(new BudgetSpentError());
    else if (!this.gotHeaders && now >= this.firstByteAt)
      this.abort(new FirstByteTimeoutError(this.firstByteMs));
    else this.schedule(now); // the headers came in time: on to the budget
  };

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops the exchange (client gone, or a body too large); later callbacks report `reason`. */
  abort(reason: Error): void {
    this.abortReason ??= reason;
    this.controller?.abort(reason);
  }

  /** Buffers the whole body, at most `limit` bytes. */
  collect(limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    return this.pipe((chunk) => {
      size += chunk.length;
      if (size > limit)
        this.abort(new UpstreamError(502, `The upstream answer is larger than ${limit} bytes`));
      else chunks.push(chunk);
      return true;
    }).then(() => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
  }

  /**
   * Hands each chunk to `write` as it arrives; when `write` returns false, reading pauses
   * until {@link resume}. Resolves at the end of the body, rejects on a transport error. What
   * `write` throws (a decoder that cannot read the body) ends the exchange at once, its
   * connection with it, and rejects with that error.
   */
  pipe(write: (chunk: Buffer) => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.finished = { resolve, reject };
      this.sink = write;
      const queued = this.queued;
      this.queued = [];
      let flowing = true;
      try {
        for (const chunk of queued) flowing = write(chunk) && flowing;
      } catch (err) {
        // The body came while nobody read it (paused since its head): without the abort it
        // would stay paused, holding its connection, until a timer ended it.
        this.abort(asError(err));
        reject(this.abortReason!);
        return;
      }
      if (this.failure) reject(this.failure);
      else if (this.ended) resolve();
      else if (flowing) this.controller?.resume();
    });
  }

  resume(): void {
    this.controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx: the real answer follows
    this.gotHeaders = true;
    this.statusCode = statusCode;
    this.headers = headers;
    // Hold the body until someone takes it.
    if (!this.sink) controller.pause();
    this.started.resolve();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.sink) {
      this.queued.push(chunk);
      return;
    }
    let flowing: boolean;
    try {
      flowing = this.sink(chunk);
    } catch (err) {
      this.abort(asError(err));
      return;
    }
    if (!flowing) controller.pause();
  }

  onResponseEnd(): void {
    this.clearTimer();
    this.ended = true;
    this.finished?.resolve();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.clearTimer();
    const error = this.abortReason ?? err;
    this.failure = error;
    this.started.reject(error);
    this.finished?.reject(error);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The keep-alive HTTP client for upstream calls: undici Agents (a connection pool per origin),
 * so a relay reuses connections instead of opening one per request. The time to first byte and
 * the idle gap are set per request; the connect timeout belongs to an Agent, so a channel with
 * its own gets an Agent of its own (one per distinct value).
 */
export class UpstreamClient {
  private readonly agents = new Map<number, Agent>();

  constructor(
    private readonly defaults: UpstreamTimeouts,
    /** Which addresses may be called (UPSTREAM_DENY_PRIVATE, UPSTREAM_ALLOW, never the gateway itself). */
    private readonly policy?: UpstreamPolicy,
  ) {}

  /**
   * Sends the request; the exchange's `response` settles when the headers arrive (or the
   * attempt fails). `timeouts` override the defaults for this request; `budgetMs`, when given,
   * aborts the exchange unless it is committed by then.
   */
  send(req: UpstreamRequest, timeouts: Partial<UpstreamTimeouts> = {}, budgetMs?: number): UpstreamExchange {
    const method = req.method ?? 'POST';
    const exchange = new UpstreamExchange();
    const firstByteTimeoutMs = timeouts.firstByteTimeoutMs ?? this.defaults.firstByteTimeoutMs;
    exchange.arm(firstByteTimeoutMs, budgetMs);
    this.agent(timeouts.connectTimeoutMs ?? this.defaults.connectTimeoutMs).dispatch(
      {
        origin: req.origin,
        path: req.path,
        method,
        headers: req.headers,
        body: method === 'GET' ? null : req.body,
        headersTimeout: firstByteTimeoutMs,
        bodyTimeout: timeouts.idleTimeoutMs ?? this.defaults.idleTimeoutMs,
      },
      exchange,
    );
    return exchange;
  }

  private agent(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (!agent) {
      agent = new Agent({
        connect: this.policy ? this.policy.connector(connectTimeoutMs) : { timeout: connectTimeoutMs },
        headersTimeout: this.defaults.firstByteTimeoutMs,
        bodyTimeout: this.defaults.idleTimeoutMs,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connections: 256,
        pipelining: 1,
      });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
  }
}
