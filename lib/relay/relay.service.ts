import type { Logger } from 'pino';
import type { RoutedChannel, RoutingIndex } from '../cfg/routing-index.js';
import type { AppError } from '../errors/app.error.js';
import { NoChannelError } from '../errors/no-channel.error.js';
import type { Metrics } from '../obs/metrics.js';
import { ChannelHealth } from '../routing/channel-health.js';
import { selectChannel, type HealthView, type Random } from '../routing/channel-selector.js';
import type { AdapterRegistry } from './adapters/index.js';
import type { AttemptRunner, AttemptState, CommittedFailure } from './attempt-runner.js';
import type { ChannelDisabler } from './channel-disabler.js';
import type { RelayOutcome, RelayRequest } from './relay-request.js';
import { ClientGoneError } from './upstream-client.js';
import type { AttemptFailure } from './upstream-failure.js';
import type { UpstreamStats } from './upstream-stats.js';
import { transportFailure } from './transport-failure.js';

export interface RelayOptions {
  /** Retries on other channels after a failed attempt. */
  retryTimes: number;
  /** The budget for every attempt of one request, until its answer starts reaching the client. */
  totalTimeoutMs: number;
  /** How long a 429 without Retry-After cools its (channel, model). */
  rateLimitCooldownMs: number;
  random?: Random;
}

/** An unusable account is skipped on every node this long while the master disables it. */
const UNUSABLE_COOLDOWN_MS = 60_000;
/** The longest pause a Retry-After can ask for. */
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * The failover loop for one request: choose a channel (group → model → tier → weight, passing
 * over cooled or open (channel, model)s), send through the channel's adapter, and on a retryable
 * failure try another channel never tried for this request, exhausting a tier before the next,
 * within the request's total budget. Each attempt (the call, the answer to the client, the
 * tokens to bill) is an {@link AttemptRunner}'s; its outcome feeds the channel's health
 * (cooldowns, breaker, auto-disable) and stats. Returns an outcome the handler settles from; the
 * wire formats live in the adapters.
 */
export class RelayService {
  constructor(
    private readonly routing: () => RoutingIndex,
    private readonly adapters: AdapterRegistry,
    private readonly attempts: AttemptRunner,
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
        const failure = await this.attempts.run(req, channel, state, deadline);
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
