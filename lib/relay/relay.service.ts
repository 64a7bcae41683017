import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { TokenCounts } from '../billing/price-book.js';
import {
  answerText,
  countPromptTokens,
  countStreamedTokens,
  countTextTokens,
} from '../billing/token-counter.js';
import type { RoutedChannel, RoutingIndex } from '../cfg/routing-index.js';
import { AppError } from '../errors/app.error.js';
import { NoChannelError } from '../errors/no-channel.error.js';
import { UpstreamError } from '../errors/upstream.error.js';
import type { Metrics } from '../obs/metrics.js';
import { selectChannel, upstreamModel, type Random } from '../routing/channel-selector.js';
import { Cooldowns, retryAfterMs } from '../routing/cooldowns.js';
import type { ChannelDisabler } from './channel-disabler.js';
import type { Endpoint, ProviderAdapter } from './adapters/provider-adapter.js';
import type { RelayCaller } from './relay-auth.js';
import { SseUsageFilter, type Usage } from './sse-usage-filter.js';
import {
  ClientGoneError,
  classifyTransportError,
  type UpstreamClient,
  type UpstreamExchange,
} from './upstream-client.js';

/** What the access log line reports about a relayed request; filled in as the relay goes. */
export interface RelayLogFields {
  tokenId?: number;
  userId?: number;
  model?: string;
  channelId?: number;
  upstreamModel?: string;
  attempts?: number;
  stream?: boolean;
  /** Quota charged (the access log shows it). */
  usage?: number;
  /** Tokens of the answer that reached the client; unset when none did. */
  counts?: TokenCounts;
  /** From the start of the relay to the first byte sent to the client. */
  ttftMs?: number;
}

export interface RelayRequest {
  requestId: string;
  endpoint: Endpoint;
  /** The client's JSON body; `model` is a non-empty string. */
  body: Record<string, unknown> & { model: string };
  caller: RelayCaller;
  res: ServerResponse;
  log: RelayLogFields;
  /** When the relay started (ms). */
  startedAt?: number;
  /** Billing is on: count the answer's tokens locally when the upstream reports none. */
  billed?: boolean;
}

/** Why one attempt failed, and whether another channel may be tried. */
interface AttemptFailure {
  retry: boolean;
  error: AppError;
  reason: string;
  /** What the upstream said, when the client is not shown it. */
  detail?: string;
  /** The upstream's Retry-After, for a 429. */
  retryAfterMs?: number;
}

/** A 429 without Retry-After cools the channel this long. */
const DEFAULT_429_COOLDOWN_MS = 5_000;
/** A refused key cools the channel this long, while the master disables it. */
const AUTH_FAILURE_COOLDOWN_MS = 60_000;

const MAX_ERROR_BODY = 64 * 1024;
const MAX_JSON_BODY = 64 * 1024 * 1024;
/** How much of a stream is kept for counting its tokens when the upstream reports no usage. */
const MAX_COUNTED_STREAM = 4 * 1024 * 1024;

function countsOf(usage: Usage): TokenCounts {
  const prompt = Math.max(0, Math.floor(usage.prompt_tokens ?? 0));
  const completion = Math.max(
    0,
    Math.floor(usage.completion_tokens ?? (usage.total_tokens ?? prompt) - prompt),
  );
  const cached = Math.max(0, Math.floor(usage.prompt_tokens_details?.cached_tokens ?? 0));
  return { promptTokens: prompt, completionTokens: completion, cachedTokens: Math.min(cached, prompt) };
}

/**
 * The relay pipeline for one request: choose a channel (group → model → tier → weight), send,
 * and on a retryable failure try another channel never tried for this request, exhausting a
 * tier before the next; then pass the answer through (streams event by event) and charge usage.
 */
export class RelayService {
  constructor(
    private readonly routing: () => RoutingIndex,
    private readonly adapters: ReadonlyMap<string, ProviderAdapter>,
    private readonly upstream: UpstreamClient,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly opts: { retryTimes: number; random?: Random },
    private readonly cooldowns: Cooldowns = new Cooldowns(),
    private readonly disabler?: ChannelDisabler,
  ) {}

  async relay(req: RelayRequest): Promise<void> {
    const { caller, body, res } = req;
    const group = caller.token.group;
    const model = body.model;
    const tiers = this.routing().tiers(group, model);
    if (tiers.length === 0) throw new NoChannelError(group, model);

    const attempt: { exchange: UpstreamExchange | undefined; clientGone: boolean } = {
      exchange: undefined,
      clientGone: false,
    };
    const onClose = () => {
      if (res.writableFinished) return;
      attempt.clientGone = true;
      attempt.exchange?.abort(new ClientGoneError());
    };
    res.once('close', onClose);
    try {
      const tried = new Set<number>();
      let last: AttemptFailure | undefined;
      for (let n = 0; n <= this.opts.retryTimes; n++) {
        const channel = selectChannel(tiers, tried, this.opts.random, (id) => this.cooldowns.isCooling(id));
        if (!channel) break;
        tried.add(channel.id);
        if (n > 0) this.metrics.relayRetries.inc();
        req.log.attempts = n + 1;
        req.log.channelId = channel.id;
        const failure = await this.attempt(req, channel, attempt);
        if (!failure) return;
        // A client that went away is not the channel's failure.
        if (attempt.clientGone) return;
        last = failure;
        this.metrics.channelErrors.inc({ channel: String(channel.id), reason: failure.reason });
        this.afterFailure(channel, failure);
        this.logger.warn(
          {
            requestId: req.requestId,
            channelId: channel.id,
            model,
            reason: failure.reason,
            retry: failure.retry,
          },
          'upstream attempt failed',
        );
        if (!failure.retry) break;
      }
      throw last?.error ?? new NoChannelError(group, model, tried.size);
    } finally {
      res.off('close', onClose);
    }
  }

  /** One upstream attempt. Returns nothing when the answer reached the client, else why it failed. */
  private async attempt(
    req: RelayRequest,
    channel: RoutedChannel,
    state: { exchange: UpstreamExchange | undefined; clientGone: boolean },
  ): Promise<AttemptFailure | undefined> {
    const adapter = this.adapters.get(channel.type);
    if (!adapter) {
      return {
        retry: true,
        reason: 'adapter',
        error: new UpstreamError(502, `Channel type ${channel.type} is not supported`),
      };
    }
    const stream = req.body.stream === true;
    const clientWantsUsage =
      stream && (req.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const mapped = upstreamModel(channel, req.body.model);
    req.log.upstreamModel = mapped;
    const body: Record<string, unknown> = { ...req.body, model: mapped };
    if (stream && req.endpoint !== 'embeddings') {
      body.stream_options = { ...(req.body.stream_options as object | undefined), include_usage: true };
    }
    const started = process.hrtime.bigint();
    const observe = (outcome: string) =>
      this.metrics.upstreamDuration.observe(
        { channel: String(channel.id), outcome },
        Number(process.hrtime.bigint() - started) / 1e9,
      );

    const exchange = this.upstream.send(adapter.prepare(channel, req.endpoint, body));
    state.exchange = exchange;
    if (state.clientGone) exchange.abort(new ClientGoneError());
    try {
      await exchange.response;
    } catch (err) {
      const kind = classifyTransportError(err);
      observe(kind);
      const error =
        kind === 'timeout'
          ? new UpstreamError(504, `The upstream did not answer in time (channel ${channel.id})`)
          : new UpstreamError(502, `Could not reach the upstream (channel ${channel.id}): ${kind}`);
      return { retry: kind !== 'aborted', reason: kind, error };
    }

    if (exchange.statusCode >= 400) {
      const text = await exchange.collect(MAX_ERROR_BODY).then(
        (b) => b.toString('utf8'),
        () => '',
      );
      observe('error');
      return upstreamFailure(
        exchange.statusCode,
        text,
        channel.id,
        retryAfterMs(exchange.headers['retry-after']),
      );
    }

    if (stream) {
      const { usage, text } = await this.pipeStream(req, exchange, !clientWantsUsage, channel.id);
      observe('ok');
      // No usage chunk (an upstream that ignores include_usage, or a stream cut short): count
      // what was delivered.
      this.recordCounts(req, usage, () => countStreamedTokens(text));
      return undefined;
    }

    let raw: Buffer;
    try {
      raw = await exchange.collect(MAX_JSON_BODY);
    } catch (err) {
      const kind = err instanceof UpstreamError ? 'too_large' : classifyTransportError(err);
      observe(kind);
      return {
        retry: kind !== 'aborted',
        reason: kind,
        error:
          err instanceof UpstreamError
            ? err
            : new UpstreamError(502, `The upstream broke off its answer (channel ${channel.id})`),
      };
    }
    observe('ok');
    let json: { usage?: Usage };
    try {
      json = JSON.parse(raw.toString('utf8')) as { usage?: Usage };
    } catch {
      return {
        retry: true,
        reason: 'bad_body',
        error: new UpstreamError(502, `The upstream answered with invalid JSON (channel ${channel.id})`),
      };
    }
    const res = req.res;
    res.statusCode = exchange.statusCode;
    res.setHeader('content-type', String(exchange.headers['content-type'] ?? 'application/json'));
    res.setHeader('content-length', raw.length);
    res.end(raw);
    this.markFirstByte(req);
    this.recordCounts(req, json.usage, () => countTextTokens(answerText(json)));
    return undefined;
  }

  /**
   * The tokens to bill for an answer that reached the client: the upstream's usage, else the
   * prompt and `completion()` counted locally. Nothing when billing is off.
   */
  private recordCounts(req: RelayRequest, usage: Usage | undefined, completion: () => number): void {
    if (!req.billed) return;
    req.log.counts = usage
      ? countsOf(usage)
      : {
          promptTokens: countPromptTokens(req.endpoint, req.body),
          completionTokens: completion(),
          cachedTokens: 0,
        };
  }

  private markFirstByte(req: RelayRequest): void {
    if (req.log.ttftMs === undefined && req.startedAt !== undefined)
      req.log.ttftMs = Date.now() - req.startedAt;
  }

  /**
   * Passes the SSE stream through as events complete, with back-pressure from the client.
   * Once the first byte is sent the request is committed to this channel: a later failure
   * ends the stream with an SSE error event.
   */
  private async pipeStream(
    req: RelayRequest,
    exchange: UpstreamExchange,
    dropUsage: boolean,
    channelId: number,
  ): Promise<{ usage: Usage | undefined; text: string }> {
    const res = req.res;
    const filter = new SseUsageFilter(dropUsage, req.billed ? MAX_COUNTED_STREAM : 0);
    res.statusCode = 200;
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    const onDrain = () => exchange.resume();
    res.on('drain', onDrain);
    try {
      await exchange.pipe((chunk) => {
        const out = filter.push(chunk);
        if (!out) return true;
        this.markFirstByte(req);
        return res.write(out);
      });
      const rest = filter.end();
      if (rest) res.write(rest);
      res.end();
    } catch (err) {
      const kind = classifyTransportError(err);
      this.metrics.channelErrors.inc({ channel: String(channelId), reason: 'stream' });
      if (kind === 'aborted' || res.destroyed) return { usage: filter.usage, text: filter.delivered };
      this.logger.warn({ requestId: req.requestId, channelId, reason: kind }, 'upstream stream broke off');
      const event = {
        error: {
          message: `The upstream stream broke off (${kind}) (request id: ${req.requestId})`,
          type: 'upstream_error',
          param: null,
          code: 'stream_interrupted',
        },
      };
      res.write(`data: ${JSON.stringify(event)}\n\n`);
      res.end();
    } finally {
      res.off('drain', onDrain);
    }
    return { usage: filter.usage, text: filter.delivered };
  }

  /** What a failure means for the channel beyond this request: a cooldown, or taking it out of service. */
  private afterFailure(channel: RoutedChannel, failure: AttemptFailure): void {
    if (failure.reason === 'status_429') {
      this.cooldowns.cool(channel.id, failure.retryAfterMs ?? DEFAULT_429_COOLDOWN_MS, 'rate limited (429)');
    } else if (failure.reason === 'status_auth') {
      // Skipped by every node at once; the disable follows through the master's versioned write.
      this.cooldowns.cool(channel.id, AUTH_FAILURE_COOLDOWN_MS, 'credentials refused');
      this.disabler?.disable(
        channel.id,
        `upstream refused the key: ${failure.detail ?? 'HTTP 401/403'}`.slice(0, 300),
      );
    }
  }
}

/**
 * Maps an upstream error answer to a failure. 429 and 5xx are retried on another channel, and so
 * are 401/403: those are about the channel's key, not the caller's request. Other 4xx are the
 * client's and are never retried.
 */
function upstreamFailure(
  status: number,
  text: string,
  channelId: number,
  retryAfter: number | undefined,
): AttemptFailure {
  let message = text.slice(0, 500);
  let code: string | null = null;
  try {
    const json = JSON.parse(text) as {
      error?: { message?: unknown; code?: unknown } | string;
      message?: unknown;
    };
    const e = json.error;
    if (typeof e === 'string') message = e;
    else if (e && typeof e.message === 'string') {
      message = e.message;
      code = typeof e.code === 'string' ? e.code : null;
    } else if (typeof json.message === 'string') message = json.message;
  } catch {
    // Not JSON (an HTML error page, a proxy's text): keep the start of it.
  }
  if (status === 401 || status === 403) {
    // The upstream's words may quote part of the channel's key: for the operator's log only.
    return {
      retry: true,
      reason: 'status_auth',
      error: new UpstreamError(
        502,
        `The upstream refused this gateway's credentials (channel ${channelId}, ${status})`,
        {
          code: 'upstream_auth_failed',
        },
      ),
      detail: `${status} ${message}`.trim(),
    };
  }
  const retry = status === 429 || status >= 500;
  return {
    retry,
    reason: status === 429 ? 'status_429' : status >= 500 ? 'status_5xx' : 'status_4xx',
    retryAfterMs: status === 429 ? retryAfter : undefined,
    error: new UpstreamError(
      status,
      `Upstream error ${status} (channel ${channelId}): ${message || 'no message'}`,
      {
        code: code ?? 'upstream_error',
      },
    ),
  };
}
