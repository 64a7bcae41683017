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
import { NoChannelError } from '../errors/no-channel.error.js';
import { UpstreamError } from '../errors/upstream.error.js';
import type { Metrics } from '../obs/metrics.js';
import { ChannelHealth, retryAfterMs } from '../routing/channel-health.js';
import { selectChannel, upstreamModel, type HealthView, type Random } from '../routing/channel-selector.js';
import type { ChannelDisabler } from './channel-disabler.js';
import type { Endpoint, ProviderAdapter } from './adapters/provider-adapter.js';
import type { RelayCaller } from './relay-auth.js';
import { SseUsageFilter, type Usage } from './sse-usage-filter.js';
import {
  ClientGoneError,
  classifyTransportError,
  type TransportFailure,
  type UpstreamClient,
  type UpstreamExchange,
} from './upstream-client.js';
import { upstreamFailure, type AttemptFailure, type AutoDisableRules } from './upstream-failure.js';
import type { UpstreamStats } from './upstream-stats.js';

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

/** A failure after the answer started reaching the client: the channel's, but not retried. */
interface CommittedFailure extends AttemptFailure {
  committed: true;
}

export interface RelayOptions {
  /** Retries on other channels after a failed attempt. */
  retryTimes: number;
  /** The budget for every attempt of one request, until its answer starts reaching the client. */
  totalTimeoutMs: number;
  /** How long a 429 without Retry-After cools its (channel, model). */
  rateLimitCooldownMs: number;
  /** Upstream answers that auto-disable a channel. */
  autoDisableOn: AutoDisableRules;
  random?: Random;
}

/** An unusable account is skipped on every node this long while the master disables it. */
const UNUSABLE_COOLDOWN_MS = 60_000;
/** The longest pause a Retry-After can ask for. */
const MAX_RETRY_AFTER_MS = 3_600_000;

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
 * The relay pipeline for one request: choose a channel (group → model → tier → weight, passing
 * over cooled or open (channel, model)s), send, and on a retryable failure try another channel
 * never tried for this request, exhausting a tier before the next, within the request's total
 * budget; then pass the answer through (streams event by event) and charge usage. Every
 * attempt's outcome feeds the channel's health (cooldowns, breaker, auto-disable) and stats.
 */
export class RelayService {
  constructor(
    private readonly routing: () => RoutingIndex,
    private readonly adapters: ReadonlyMap<string, ProviderAdapter>,
    private readonly upstream: UpstreamClient,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly opts: RelayOptions,
    private readonly health: ChannelHealth,
    private readonly stats: UpstreamStats,
    private readonly disabler?: ChannelDisabler,
  ) {}

  async relay(req: RelayRequest): Promise<void> {
    const { caller, body, res } = req;
    const group = caller.token.group;
    const model = body.model;
    const tiers = this.routing().tiers(group, model);
    if (tiers.length === 0) throw new NoChannelError(group, model);
    const deadline = (req.startedAt ?? Date.now()) + this.opts.totalTimeoutMs;
    const health: HealthView = {
      blocked: (id) => this.health.blocked(id, model),
      lastFailedAt: (id) => this.health.lastFailedAt(id, model),
    };

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
        if (n > 0 && Date.now() >= deadline) {
          last = transportFailure('budget', undefined, this.opts.totalTimeoutMs);
          break;
        }
        const channel = selectChannel(tiers, tried, this.opts.random, health);
        if (!channel) break;
        tried.add(channel.id);
        if (n > 0) this.metrics.relayRetries.inc();
        req.log.attempts = n + 1;
        req.log.channelId = channel.id;
        const probe = this.health.begin(channel.id, model);
        const started = performance.now();
        const failure = await this.attempt(req, channel, attempt, deadline);
        const ms = performance.now() - started;
        if (!failure) {
          this.health.succeeded(channel.id, model);
          this.stats.record(channel.id, model, 'ok', ms);
          return;
        }
        // A client that went away is not the channel's failure.
        if (attempt.clientGone) {
          this.health.abandoned(channel.id, model);
          this.stats.record(channel.id, model, 'aborted', ms);
          return;
        }
        this.stats.record(channel.id, model, failure.reason, ms);
        // Only a fault is a probe's verdict; after anything else the next request may probe.
        if (probe && failure.kind !== 'fault') this.health.abandoned(channel.id, model);
        this.afterFailure(channel, model, failure, probe);
        this.logger.warn(
          {
            requestId: req.requestId,
            channelId: channel.id,
            model,
            reason: failure.reason,
            retry: failure.retry,
            ...(failure.detail ? { upstream: failure.detail } : {}),
          },
          'upstream attempt failed',
        );
        if ((failure as Partial<CommittedFailure>).committed) return;
        last = failure;
        if (!failure.retry) break;
      }
      throw last?.error ?? new NoChannelError(group, model, tried.size);
    } finally {
      res.off('close', onClose);
    }
  }

  /**
   * One upstream attempt. Returns nothing when the answer reached the client, else why it
   * failed (a {@link CommittedFailure} when it failed after the answer started).
   */
  private attempt(
    req: RelayRequest,
    channel: RoutedChannel,
    state: { exchange: UpstreamExchange | undefined; clientGone: boolean },
    deadline: number,
  ): Promise<AttemptFailure | undefined> {
    const adapter = this.adapters.get(channel.type);
    if (!adapter) {
      return Promise.resolve({
        retry: true,
        reason: 'adapter',
        error: new UpstreamError(502, `Channel type ${channel.type} is not supported`),
      });
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
    // The request's budget runs until its answer starts reaching the client (exchange.commit()).
    const exchange = this.upstream.send(
      adapter.prepare(channel, req.endpoint, body),
      channel.timeouts,
      Math.max(1, deadline - Date.now()),
    );
    state.exchange = exchange;
    if (state.clientGone) exchange.abort(new ClientGoneError());
    return this.exchange(req, channel, exchange, stream, clientWantsUsage);
  }

  private async exchange(
    req: RelayRequest,
    channel: RoutedChannel,
    exchange: UpstreamExchange,
    stream: boolean,
    clientWantsUsage: boolean,
  ): Promise<AttemptFailure | undefined> {
    try {
      await exchange.response;
    } catch (err) {
      return transportFailure(classifyTransportError(err), channel.id, this.opts.totalTimeoutMs);
    }

    if (exchange.statusCode >= 400) {
      const text = await exchange.collect(MAX_ERROR_BODY).then(
        (b) => b.toString('utf8'),
        () => '',
      );
      return upstreamFailure(
        exchange.statusCode,
        text,
        channel.id,
        retryAfterMs(exchange.headers['retry-after']),
        this.opts.autoDisableOn,
        channel.apiKey,
      );
    }

    if (stream) {
      const piped = await this.pipeStream(req, exchange, !clientWantsUsage, channel.id);
      if ('retry' in piped) return piped;
      // No usage chunk (an upstream that ignores include_usage, or a stream cut short): count
      // what was delivered.
      await this.recordCounts(req, piped.usage, () => countStreamedTokens(piped.text));
      return piped.failure;
    }

    let raw: Buffer;
    try {
      raw = await exchange.collect(MAX_JSON_BODY);
    } catch (err) {
      if (err instanceof UpstreamError)
        return { retry: true, reason: 'too_large', kind: 'fault', error: err };
      const kind = classifyTransportError(err);
      return kind === 'reset'
        ? {
            retry: true,
            reason: 'reset',
            kind: 'fault',
            error: new UpstreamError(502, `The upstream broke off its answer (channel ${channel.id})`),
          }
        : transportFailure(kind, channel.id, this.opts.totalTimeoutMs);
    }
    let json: { usage?: Usage };
    try {
      json = JSON.parse(raw.toString('utf8')) as { usage?: Usage };
    } catch {
      return {
        retry: true,
        reason: 'bad_body',
        kind: 'fault',
        error: new UpstreamError(502, `The upstream answered with invalid JSON (channel ${channel.id})`),
      };
    }
    exchange.commit();
    const res = req.res;
    res.statusCode = exchange.statusCode;
    res.setHeader('content-type', String(exchange.headers['content-type'] ?? 'application/json'));
    res.setHeader('content-length', raw.length);
    res.end(raw);
    this.markFirstByte(req);
    await this.recordCounts(req, json.usage, () => countTextTokens(answerText(json)));
    return undefined;
  }

  /**
   * The tokens to bill for an answer that reached the client: the upstream's usage, else the
   * prompt and `completion()` counted locally (bounded, yielding to the event loop: see
   * token-counter). Nothing when billing is off.
   */
  private async recordCounts(
    req: RelayRequest,
    usage: Usage | undefined,
    completion: () => Promise<number>,
  ): Promise<void> {
    if (!req.billed) return;
    req.log.counts = usage
      ? countsOf(usage)
      : {
          promptTokens: await countPromptTokens(req.endpoint, req.body),
          completionTokens: await completion(),
          cachedTokens: 0,
        };
  }

  private markFirstByte(req: RelayRequest): void {
    if (req.log.ttftMs === undefined && req.startedAt !== undefined)
      req.log.ttftMs = Date.now() - req.startedAt;
  }

  /**
   * Passes the SSE stream through as events complete, with back-pressure from the client. The
   * answer starts (status, headers, `commit`) with the first complete event: a failure before
   * it is an ordinary failed attempt, retried elsewhere. Once started the request is committed
   * to this channel: a later failure ends the stream with an SSE error event (never half an
   * event) and is returned as a {@link CommittedFailure}.
   */
  private async pipeStream(
    req: RelayRequest,
    exchange: UpstreamExchange,
    dropUsage: boolean,
    channelId: number,
  ): Promise<AttemptFailure | { usage: Usage | undefined; text: string; failure?: CommittedFailure }> {
    const res = req.res;
    const filter = new SseUsageFilter(dropUsage, req.billed ? MAX_COUNTED_STREAM : 0);
    let started = false;
    const start = () => {
      started = true;
      exchange.commit();
      res.statusCode = 200;
      res.setHeader('content-type', 'text/event-stream; charset=utf-8');
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('x-accel-buffering', 'no');
    };
    const onDrain = () => exchange.resume();
    res.on('drain', onDrain);
    try {
      await exchange.pipe((chunk) => {
        const out = filter.push(chunk);
        if (!out) return true;
        if (!started) start();
        this.markFirstByte(req);
        return res.write(out);
      });
      const rest = filter.end();
      if (!started) start();
      if (rest) res.write(rest);
      res.end();
      return { usage: filter.usage, text: filter.delivered };
    } catch (err) {
      const kind = classifyTransportError(err);
      const delivered = { usage: filter.usage, text: filter.delivered };
      if (kind === 'aborted' || res.destroyed) return delivered;
      if (!started) return transportFailure(kind, channelId, this.opts.totalTimeoutMs);
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
      return {
        ...delivered,
        failure: {
          committed: true,
          retry: false,
          reason: 'stream',
          kind: 'fault',
          error: new UpstreamError(502, event.error.message),
        },
      };
    } finally {
      res.off('drain', onDrain);
    }
  }

  /** What a failure means for the channel beyond this request: a cooldown, its breaker, or taking it out of service. */
  private afterFailure(channel: RoutedChannel, model: string, failure: AttemptFailure, probe: boolean): void {
    switch (failure.kind) {
      case 'rate_limited':
        this.health.failed(
          channel.id,
          model,
          'rate_limited',
          Math.min(MAX_RETRY_AFTER_MS, failure.retryAfterMs ?? this.opts.rateLimitCooldownMs),
          'rate limited (429)',
        );
        break;
      case 'unusable':
        // Skipped by every node at once; the disable follows through the master's versioned write.
        this.health.failed(channel.id, model, 'unusable', UNUSABLE_COOLDOWN_MS, 'account unusable');
        this.disabler?.disable(
          channel.id,
          `upstream account unusable: ${failure.detail ?? 'unknown'}`.slice(0, 300),
        );
        break;
      case 'fault':
        this.health.failed(channel.id, model, 'fault', 0, failure.reason, probe);
        break;
    }
  }
}

/** A failed attempt that got no usable answer: a timeout, a connection error, the budget spent. */
function transportFailure(
  kind: TransportFailure,
  channelId: number | undefined,
  totalTimeoutMs: number,
): AttemptFailure {
  const on = channelId === undefined ? '' : ` (channel ${channelId})`;
  switch (kind) {
    case 'aborted':
      return { retry: false, reason: kind, error: new UpstreamError(499, 'The client closed the request') };
    case 'budget':
      return {
        retry: false,
        reason: kind,
        kind: channelId === undefined ? undefined : 'fault',
        error: new UpstreamError(
          504,
          `No upstream answered within the request's budget of ${totalTimeoutMs} ms (UPSTREAM_TOTAL_TIMEOUT_MS)`,
          { code: 'upstream_timeout' },
        ),
      };
    case 'timeout':
      return {
        retry: true,
        reason: kind,
        kind: 'fault',
        error: new UpstreamError(504, `The upstream did not answer in time${on}`, {
          code: 'upstream_timeout',
        }),
      };
    default:
      return {
        retry: true,
        reason: kind,
        kind: 'fault',
        error: new UpstreamError(502, `Could not reach the upstream${on}: ${kind}`),
      };
  }
}
