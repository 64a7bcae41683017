import type { Logger } from 'pino';
import type { TokenCounts } from '../billing/price-book.js';
import {
  answerText,
  countPromptTokens,
  countStreamedTokens,
  countTextTokens,
} from '../billing/token-counter.js';
import type { RoutedChannel, RoutingIndex } from '../cfg/routing-index.js';
import type { AppError } from '../errors/app.error.js';
import { NoChannelError } from '../errors/no-channel.error.js';
import { UpstreamError } from '../errors/upstream.error.js';
import type { Metrics } from '../obs/metrics.js';
import { ChannelHealth } from '../routing/channel-health.js';
import { selectChannel, upstreamModel, type HealthView, type Random } from '../routing/channel-selector.js';
import type { AdapterRegistry } from './adapters/index.js';
import { UpstreamStreamError, type Endpoint, type NormalizedUsage } from './adapters/provider-adapter.js';
import type { ChannelDisabler } from './channel-disabler.js';
import { BridgeSink, DirectSink, type ClientSink } from './client-sink.js';
import type { ChatRequest, IngressFormat } from './ingress/ingress-format.js';
import type { RelayCaller } from './relay-auth.js';
import { ClientGoneError, classifyTransportError, type UpstreamExchange } from './upstream-client.js';
import type { UpstreamCaller, UpstreamCall } from './upstream-call.js';
import { upstreamFailure, type AttemptFailure, type AutoDisableRules } from './upstream-failure.js';
import type { UpstreamStats } from './upstream-stats.js';
import { transportFailure } from './transport-failure.js';

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
  /** From the start of the relay to the first byte sent to the client. */
  ttftMs?: number;
}

export interface RelayRequest {
  requestId: string;
  endpoint: Endpoint;
  /** The client's JSON body, in the endpoint's format; `model` is a non-empty string. */
  body: Record<string, unknown> & { model: string };
  /** For `messages` and `responses`: the format, and the body as an OpenAI chat request (the bridge sends it; local counts read it). */
  ingress?: {
    format: IngressFormat;
    chat: ChatRequest;
    /** Set when the request cannot be bridged (see `IngressFormat.bridgeProblem`): channels that would bridge it are passed over. */
    unbridgeable?: AppError;
  };
  caller: RelayCaller;
  /** The client's request headers (a native pass-through may carry a provider's own, see `AdapterRequest.clientHeaders`). */
  headers?: import('node:http').IncomingHttpHeaders;
  res: import('node:http').ServerResponse;
  log: RelayLogFields;
  /** When the relay started (ms). */
  startedAt?: number;
  /** Billing is on: count the answer's tokens locally when the upstream reports none. */
  billed?: boolean;
}

/** How a relayed request ended: what the handler settles and logs from. */
export interface RelayOutcome {
  /** The status the client got (or gets, with `error`). */
  status: number;
  /** Set when no answer reached the client: the handler answers it. */
  error?: AppError;
  channelId?: number;
  upstreamModel?: string;
  attempts: number;
  /** Tokens of the answer that reached the client (wholly or in part); unset when none did or billing is off. */
  counts?: TokenCounts;
  ttftMs?: number;
  /** The client went away before the answer ended. */
  clientGone?: boolean;
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

const MAX_JSON_BODY = 64 * 1024 * 1024;
/** How much of a stream is kept for counting its tokens when the upstream reports no usage. */
const MAX_COUNTED_STREAM = 4 * 1024 * 1024;

interface AttemptState {
  exchange: UpstreamExchange | undefined;
  clientGone: boolean;
  /** What reached the client of the successful or committed attempt. */
  counts?: TokenCounts;
  ttftMs?: number;
}

/** An attempt's answer: nothing (the answer reached the client) or why it failed. */
type AttemptResult = AttemptFailure | undefined;

/** A stream the decoder could not read (malformed data, a frame that fails its checksum). */
class UnreadableStreamError extends Error {
  constructor(cause: unknown) {
    super('the upstream stream could not be read', { cause });
    this.name = 'UnreadableStreamError';
  }
}

/** Runs a step of decoding; what it throws, other than an in-stream error event, is an {@link UnreadableStreamError}. */
function unreadable<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof UpstreamStreamError) throw err;
    throw new UnreadableStreamError(err);
  }
}

function toCounts(u: NormalizedUsage): TokenCounts {
  return {
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    cachedTokens: Math.min(u.cachedTokens, u.promptTokens),
    cacheWriteTokens: Math.min(u.cacheWriteTokens, u.promptTokens),
  };
}

/**
 * The failover loop for one request: choose a channel (group → model → tier → weight, passing
 * over cooled or open (channel, model)s), send through the channel's adapter, and on a retryable
 * failure try another channel never tried for this request, exhausting a tier before the next,
 * within the request's total budget. The answer goes to the client through a {@link ClientSink};
 * every attempt's outcome feeds the channel's health (cooldowns, breaker, auto-disable) and
 * stats. Returns an outcome the handler settles from; the wire formats live in the adapters.
 */
export class RelayService {
  constructor(
    private readonly routing: () => RoutingIndex,
    private readonly adapters: AdapterRegistry,
    private readonly upstream: UpstreamCaller,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly opts: RelayOptions,
    private readonly health: ChannelHealth,
    private readonly stats: UpstreamStats,
    private readonly disabler?: ChannelDisabler,
  ) {}

  async relay(req: RelayRequest): Promise<RelayOutcome> {
    const { caller, body, res } = req;
    const group = caller.token.group;
    const model = body.model;
    const outcome: RelayOutcome = { status: 0, attempts: 0 };
    const tiers = this.routing().tiers(group, model);
    if (tiers.length === 0) return this.failed(outcome, new NoChannelError(group, model));
    const deadline = (req.startedAt ?? Date.now()) + this.opts.totalTimeoutMs;
    const health: HealthView = {
      blocked: (id) => this.health.blocked(id, model),
      lastFailedAt: (id) => this.health.lastFailedAt(id, model),
    };

    const state: AttemptState = { exchange: undefined, clientGone: false };
    const onClose = () => {
      if (res.writableFinished) return;
      state.clientGone = true;
      state.exchange?.abort(new ClientGoneError());
    };
    res.once('close', onClose);
    // A client that left before the relay began (while its request was admitted, say) closed
    // before this listener was there: it is gone all the same.
    if (res.destroyed) onClose();
    try {
      const tried = new Set<number>();
      let last: AttemptFailure | undefined;
      for (let n = 0; n <= this.opts.retryTimes; n++) {
        // No upstream is called for a client that is gone: nothing is charged, the hold comes back.
        if (state.clientGone) return this.abandoned(outcome, res);
        if (n > 0 && Date.now() >= deadline) {
          last = transportFailure('budget', undefined, this.opts.totalTimeoutMs);
          break;
        }
        const channel = selectChannel(tiers, tried, this.opts.random, health);
        if (!channel) break;
        tried.add(channel.id);
        const unbridgeable = this.unbridgeableOn(req, channel);
        if (unbridgeable) {
          // Not an attempt and not the channel's failure: the request needs a native channel.
          last ??= { retry: true, reason: 'unsupported', error: unbridgeable };
          n--;
          continue;
        }
        if (n > 0) this.metrics.relayRetries.inc();
        outcome.attempts = req.log.attempts = n + 1;
        outcome.channelId = req.log.channelId = channel.id;
        // What an earlier attempt counted never reached the client: it is not this attempt's.
        state.counts = undefined;
        const probe = this.health.begin(channel.id, model);
        const started = performance.now();
        const failure = await this.attempt(req, channel, state, deadline);
        const ms = performance.now() - started;
        outcome.upstreamModel = req.log.upstreamModel;
        outcome.counts = state.counts;
        outcome.ttftMs = state.ttftMs;
        if (!failure) {
          this.health.succeeded(channel.id, model);
          this.stats.record(channel.id, model, 'ok', ms);
          outcome.status = res.statusCode;
          return outcome;
        }
        // A client that went away is not the channel's failure.
        if (state.clientGone) {
          this.health.abandoned(channel.id, model);
          this.stats.record(channel.id, model, 'aborted', ms);
          return this.abandoned(outcome, res);
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
        if ((failure as Partial<CommittedFailure>).committed) {
          outcome.status = res.statusCode;
          return outcome;
        }
        last = failure;
        if (!failure.retry) break;
      }
      return this.failed(outcome, last?.error ?? new NoChannelError(group, model, tried.size));
    } finally {
      res.off('close', onClose);
    }
  }

  /** The reason to pass a channel over: it would bridge a request that cannot be bridged. */
  private unbridgeableOn(req: RelayRequest, channel: RoutedChannel): AppError | undefined {
    const unbridgeable = req.ingress?.unbridgeable;
    const adapter = unbridgeable && this.adapters.get(channel.type);
    if (!adapter) return undefined;
    return adapter.endpoints(this.adapters.settingsOf(adapter, channel)).has(req.endpoint)
      ? undefined
      : unbridgeable;
  }

  /** The client went away: 499 unless its answer had started. */
  private abandoned(outcome: RelayOutcome, res: RelayRequest['res']): RelayOutcome {
    outcome.clientGone = true;
    outcome.status = res.headersSent ? res.statusCode : 499;
    return outcome;
  }

  private failed(outcome: RelayOutcome, error: AppError): RelayOutcome {
    outcome.error = error;
    outcome.status = error.status;
    return outcome;
  }

  /**
   * One upstream attempt. Returns nothing when the answer reached the client, else why it
   * failed (a {@link CommittedFailure} when it failed after the answer started).
   */
  private async attempt(
    req: RelayRequest,
    channel: RoutedChannel,
    state: AttemptState,
    deadline: number,
  ): Promise<AttemptResult> {
    const adapter = this.adapters.get(channel.type);
    if (!adapter) {
      return {
        retry: true,
        reason: 'adapter',
        error: new UpstreamError(502, `Channel type ${channel.type} is not supported`),
      };
    }
    const settings = this.adapters.settingsOf(adapter, channel);
    const native = adapter.endpoints(settings);
    // An ingress format the channel does not speak is bridged through chat.
    const bridged = !native.has(req.endpoint) && req.ingress !== undefined && native.has('chat');
    if (!native.has(req.endpoint) && !bridged) {
      return {
        retry: true,
        reason: 'unsupported',
        error: new UpstreamError(400, `No channel for this model serves ${req.endpoint} requests`, {
          code: 'unsupported_endpoint',
        }),
      };
    }
    const stream = req.body.stream === true;
    const mapped = upstreamModel(channel, req.body.model);
    req.log.upstreamModel = mapped;
    const source = bridged ? req.ingress!.chat : req.body;
    const call = await this.upstream.open(
      adapter,
      {
        channel,
        settings,
        endpoint: bridged ? 'chat' : req.endpoint,
        body: { ...source, model: mapped },
        stream,
        ...(bridged ? {} : { clientHeaders: req.headers }),
      },
      Math.max(1, deadline - Date.now()),
    );
    if ('retry' in call) return call;
    state.exchange = call.exchange;
    if (state.clientGone) call.exchange.abort(new ClientGoneError());
    const failed = await this.upstream.head(call, this.opts.autoDisableOn);
    if (failed) return failed;
    const sink: ClientSink = bridged
      ? new BridgeSink(req.res, req.ingress!.format, req.body.model, `chatcmpl-${req.requestId}`, req.body)
      : new DirectSink(req.res, req.ingress?.format);
    return stream ? this.pipeStream(req, call, sink, state, bridged) : this.whole(req, call, sink, state);
  }

  private async whole(
    req: RelayRequest,
    call: UpstreamCall,
    sink: ClientSink,
    state: AttemptState,
  ): Promise<AttemptResult> {
    const answer = await this.upstream.whole(call, MAX_JSON_BODY);
    if ('retry' in answer) return answer;
    call.exchange.commit();
    try {
      sink.whole(call.exchange.statusCode, answer);
    } catch {
      // Only a bridge translates here: an answer it cannot read is the upstream's fault.
      if (!req.res.headersSent)
        return {
          retry: true,
          reason: 'bad_body',
          kind: 'fault',
          error: new UpstreamError(502, "The upstream's answer could not be translated"),
        };
    }
    this.markFirstByte(req, state);
    state.counts = await this.counts(req, answer.usage, () => countTextTokens(answerText(answer.json)));
    return undefined;
  }

  /**
   * The tokens to bill for an answer that reached the client: the upstream's usage, else the
   * prompt and `completion()` counted locally (bounded, giving the event loop back: see
   * token-counter). With `atLeastDelivered` (a stream that ended early) the completion is at
   * least `completion()`, the upstream's partial usage notwithstanding. Nothing when billing is off.
   */
  private async counts(
    req: RelayRequest,
    usage: NormalizedUsage | undefined,
    completion: () => Promise<number>,
    atLeastDelivered = false,
  ): Promise<TokenCounts | undefined> {
    if (!req.billed) return undefined;
    if (usage && atLeastDelivered) {
      const counts = toCounts(usage);
      return { ...counts, completionTokens: Math.max(counts.completionTokens, await completion()) };
    }
    if (usage) return toCounts(usage);
    const promptTokens = req.ingress
      ? await countPromptTokens('chat', req.ingress.chat)
      : await countPromptTokens(req.endpoint, req.body);
    return { promptTokens, completionTokens: await completion(), cachedTokens: 0 };
  }

  private markFirstByte(req: RelayRequest, state: AttemptState): void {
    if (req.log.ttftMs === undefined && req.startedAt !== undefined)
      req.log.ttftMs = state.ttftMs = Date.now() - req.startedAt;
  }

  /**
   * Passes the stream through the adapter's decoder to the sink as events complete, with
   * back-pressure from the client. The answer starts (status, headers, `commit`) with the first
   * complete event: a failure before it is an ordinary failed attempt, retried elsewhere. Once
   * started the request is committed to this channel: a later failure ends the stream with an
   * error event (never half an event) and is returned as a {@link CommittedFailure}.
   */
  private async pipeStream(
    req: RelayRequest,
    call: UpstreamCall,
    sink: ClientSink,
    state: AttemptState,
    bridged: boolean,
  ): Promise<AttemptResult> {
    const { exchange, adapter } = call;
    const res = req.res;
    const clientWantsUsage =
      bridged || (req.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const decoder = adapter.streamDecoder(call.req, {
      clientWantsUsage,
      keepText: req.billed ? MAX_COUNTED_STREAM : 0,
      model: req.body.model,
      id: `chatcmpl-${req.requestId}`,
    });
    let started = false;
    const start = () => {
      started = true;
      exchange.commit();
      sink.start();
    };
    /**
     * No usage (an upstream that ignores include_usage, or a stream cut short): count what was
     * delivered. A stream that ended early is charged at least for what was delivered, whatever
     * partial usage came before the break (Gemini's events carry the prompt count from the first
     * one on, the output count only in the last).
     */
    const settle = async (complete: boolean) => {
      state.counts = await this.counts(
        req,
        decoder.usage,
        () => countStreamedTokens(decoder.delivered),
        !complete,
      );
    };
    const onDrain = () => exchange.resume();
    res.on('drain', onDrain);
    try {
      // What the decoder (or a bridge's translation) throws is the body's fault; the exchange
      // ends at once on it (see UpstreamExchange.pipe).
      await exchange.pipe((chunk) =>
        unreadable(() => {
          const out = decoder.push(chunk);
          if (out.length === 0) return true;
          if (!started) start();
          this.markFirstByte(req, state);
          const flowing = sink.write(out);
          // The events before a failure went out; the failure ends the stream now.
          if (decoder.pendingFailure !== undefined) throw decoder.pendingFailure;
          return flowing;
        }),
      );
      unreadable(() => {
        const rest = decoder.end();
        if (!started) start();
        if (rest.length > 0) sink.write(rest);
      });
      sink.end(decoder.usage);
      await settle(true);
      return undefined;
    } catch (err) {
      // Only an answer that started reaching the client is billed; before that, the attempt failed.
      if (started) await settle(false);
      if (err instanceof UnreadableStreamError) {
        const failure: AttemptFailure = {
          retry: true,
          reason: 'bad_body',
          kind: 'fault',
          error: new UpstreamError(502, 'The upstream answered with a stream it could not read'),
        };
        if (!started) return failure;
        return this.breakStream(req, sink, 'bad_body', failure);
      }
      if (err instanceof UpstreamStreamError) {
        const failure = upstreamFailure(
          err.info.kind === 'rate_limited' ? 429 : 502,
          err.info,
          call.req.channel.id,
          undefined,
          this.opts.autoDisableOn,
          call.req.channel.apiKey,
        );
        if (!started) return failure;
        return this.breakStream(req, sink, 'upstream_error', failure);
      }
      const kind = classifyTransportError(err);
      // The client went away: what it was sent is billed; not the channel's failure.
      if (kind === 'aborted' || res.destroyed)
        return started
          ? undefined
          : transportFailure('aborted', call.req.channel.id, this.opts.totalTimeoutMs);
      if (!started) return transportFailure(kind, call.req.channel.id, this.opts.totalTimeoutMs);
      return this.breakStream(req, sink, kind, {
        retry: false,
        reason: 'stream',
        kind: 'fault',
        error: new UpstreamError(502, 'stream'),
      });
    } finally {
      res.off('drain', onDrain);
    }
  }

  /** Ends a started stream with an error event after the last whole event; the failure is the channel's, not retried. */
  private breakStream(
    req: RelayRequest,
    sink: ClientSink,
    why: string,
    failure: AttemptFailure,
  ): CommittedFailure {
    const message = `The upstream stream broke off (${why}) (request id: ${req.requestId})`;
    sink.fail(message, 'stream_interrupted');
    return {
      ...failure,
      committed: true,
      retry: false,
      reason: failure.reason === 'stream' ? 'stream' : failure.reason,
      error: new UpstreamError(502, message),
    };
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
