import type { z } from 'zod';
import type { RoutedChannel } from '../../cfg/routing-index.js';

/**
 * The operations the relay serves. `chat`, `completions` and `embeddings` are OpenAI's; every
 * adapter that serves `chat` also serves the ingress formats (`messages`, `responses`) through
 * the chat bridge, unless it serves them natively (then they pass through).
 */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'messages' | 'responses';

/** An upstream HTTP request ready to send. */
export interface PreparedRequest {
  /** POST unless said otherwise. */
  method?: 'GET' | 'POST';
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/**
 * Token counts of one answer, normalised across providers. `promptTokens` includes cached reads
 * and cache writes; `cachedTokens` (reads) and `cacheWriteTokens` are kept apart for pricing.
 */
export interface NormalizedUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  /** Part of `completionTokens` spent on reasoning, when the provider says. */
  reasoningTokens?: number;
}

/** What a whole upstream answer becomes: the client's body (OpenAI-shaped, or the native one on a pass-through) and its usage. */
export interface DecodedAnswer {
  /** The answer's bytes as the client gets them (a pass-through returns the upstream's bytes untouched). */
  body: string | Buffer;
  contentType: string;
  /** Absent when the upstream reported none (the relay then counts locally). */
  usage: NormalizedUsage | undefined;
  /** The answer parsed, OpenAI-shaped (the chat bridge and local counting read it; saves a second parse). */
  json?: Record<string, unknown>;
}

/**
 * Owns a provider's stream framing (SSE, JSON lines, binary event streams) and turns it into the
 * client's SSE bytes (OpenAI `chat.completion.chunk` events, or the native events on a
 * pass-through), reading usage on the way.
 */
export interface StreamDecoder {
  /** Upstream bytes in; the complete client events to send now ('' when none is complete). Throws {@link UpstreamStreamError} on an in-stream error event. */
  push(chunk: Buffer): string | Buffer;
  /** The upstream ended; whatever is left to send (a final usage chunk, `[DONE]`). */
  end(): string | Buffer;
  /**
   * An error met after other events of the same chunk: `push` returned those events, and the
   * next call throws it. The relay sends them and ends the stream at once rather than waiting
   * for more of a body it already knows is broken.
   */
  readonly pendingFailure?: unknown;
  /** The usage read so far (input tokens may come first, output tokens last). */
  readonly usage: NormalizedUsage | undefined;
  /**
   * The usage read is the upstream's count for the whole answer (not a running or partial
   * one). A stream that ends early is billed at least the tokens of the text delivered unless
   * this is true.
   */
  readonly usageFinal: boolean;
  /** The text delivered so far (bounded), for counting locally when no usage came. */
  readonly delivered: string;
}

export interface StreamOptions {
  /** The client asked for a usage chunk (`stream_options.include_usage`). */
  clientWantsUsage: boolean;
  /** How much delivered text to keep for local counting (0: none, billing is off). */
  keepText: number;
  /** The model name the client asked for (shown in translated chunks). */
  model: string;
  /** An id for translated answers (`chatcmpl-…`). */
  id: string;
}

/** What the upstream said in an error answer, read by its provider's adapter. */
export interface UpstreamErrorInfo {
  message: string;
  code: string | null;
  type: string | null;
  /** The request field the error is about, when the provider names one. */
  param?: string | null;
  /**
   * The provider's own verdict when its status alone would mislead (Gemini's 400
   * `API_KEY_INVALID` is an unusable account, Azure's 400 content filter is the client's, an
   * Anthropic 529 is a fault). Absent: the status decides.
   */
  kind?: 'client' | 'rate_limited' | 'unusable' | 'fault';
  /** How long the provider asks to wait, when it says so in the body rather than in `Retry-After` (Gemini's `RetryInfo`). */
  retryAfterMs?: number;
}

/** An error event inside an upstream stream (Anthropic's `error` event, Bedrock's exception frames). */
export class UpstreamStreamError extends Error {
  constructor(
    message: string,
    readonly info: UpstreamErrorInfo,
  ) {
    super(message);
    this.name = 'UpstreamStreamError';
  }
}

/** What an adapter is given to build one upstream request. */
export interface AdapterRequest<S> {
  channel: RoutedChannel;
  /** The channel's `settings`, parsed by the adapter's schema. */
  settings: S;
  endpoint: Endpoint;
  /** The client's body (in the endpoint's format), `model` already mapped to the upstream's name. */
  body: Record<string, unknown>;
  stream: boolean;
  /**
   * The client's request headers. Only a native pass-through reads any, and only those it names
   * (Anthropic's `anthropic-beta`); credentials and everything else are never forwarded.
   */
  clientHeaders?: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * One provider type. Lives in `lib/relay/adapters/<type>/`. Routing, failover, health and
 * billing know nothing of a provider's wire format: everything about it is here.
 */
export interface ProviderAdapter<S = unknown> {
  /** The channel `type` it serves. */
  readonly type: string;
  /** The channel's `settings` (validated on every write; parsed again when building requests). */
  readonly settings: z.ZodType<S>;
  /** The endpoints a channel with these settings speaks natively. `messages`/`responses` missing: bridged through `chat`. */
  endpoints(settings: S): ReadonlySet<Endpoint>;
  /** Builds the upstream request (async: signing over the final body, token exchange). */
  prepare(req: AdapterRequest<S>): Promise<PreparedRequest>;
  /** A whole answer (status < 400) into the client's shape with normalised usage; throws on a body it cannot read. */
  decode(req: AdapterRequest<S>, raw: Buffer): DecodedAnswer;
  /** A decoder for a streamed answer. */
  streamDecoder(req: AdapterRequest<S>, opts: StreamOptions): StreamDecoder;
  /** Reads an error answer (status >= 400). */
  readError(status: number, text: string): UpstreamErrorInfo;
  /** The request for the upstream's model list, and how to read its answer into model ids. */
  listModels(channel: RoutedChannel, settings: S): Promise<PreparedRequest>;
  readModels(raw: Buffer): string[];
}
