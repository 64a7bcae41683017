import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HealthSnapshot } from '../routing/channel-health.js';

/** Every Prometheus metric Switchyard exports, on one registry per process (tests build their own). */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly relayDuration = new Histogram({
    name: 'relay_duration_seconds',
    help: 'Time from a relay request arriving to its response ending, retries included.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'upstream_duration_seconds',
    help: 'Time for one upstream attempt, from sending the request to the end of its body (or its failure).',
    labelNames: ['channel', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly upstreamRequests = new Counter({
    name: 'upstream_requests_total',
    help: 'Upstream attempts, by channel, requested model and outcome (ok, status_5xx, status_429, status_4xx, status_auth, unusable, connect, timeout, reset, budget, bad_body, stream, aborted).',
    labelNames: ['channel', 'model', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly relayRetries = new Counter({
    name: 'relay_retries_total',
    help: 'Upstream attempts retried on another channel.',
    registers: [this.registry],
  });

  readonly billingAdmissions = new Counter({
    name: 'billing_admissions_total',
    help: 'Relay admissions, by result (ok, rate_requests, rate_tokens, quota, unpriced).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly billingQuota = new Counter({
    name: 'billing_quota_charged_total',
    help: 'Quota units charged for relayed requests.',
    registers: [this.registry],
  });

  readonly usageFlushed = new Counter({
    name: 'usage_flushed_total',
    help: 'Settled charges written to the database by the usage flush (new ones only).',
    registers: [this.registry],
  });

  readonly billingDriftRepaired = new Counter({
    name: 'billing_drift_repaired_units_total',
    help: 'Quota units the balance reconciliation added to (positive) or took from (negative) live Redis balances to match the database, by owner (token, user).',
    labelNames: ['who', 'sign'] as const,
    registers: [this.registry],
  });

  readonly billingDriftBalances = new Gauge({
    name: 'billing_drift_balances',
    help: 'Live balances the last balance reconciliation found out of line with the database (and repaired).',
    registers: [this.registry],
  });

  readonly cfgVersionApplied = new Gauge({
    name: 'cfg_version_applied',
    help: 'The config version this node has applied.',
    registers: [this.registry],
  });

  readonly cfgResyncs = new Counter({
    name: 'cfg_resyncs_total',
    help: 'Full resyncs of the config caches, by trigger.',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });

  readonly cfgResyncDuration = new Histogram({
    name: 'cfg_resync_duration_seconds',
    help: 'Duration of a full resync (snapshot read and index build).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly cfgInvalidations = new Counter({
    name: 'cfg_invalidations_total',
    help: 'Config changes seen by this node, by result (applied, duplicate, gap).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly cfgGaps = new Counter({
    name: 'cfg_gaps_total',
    help: 'Times this node found itself behind, by reason (sequence, poll, beacon, reconnect, epoch, missing_version).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly cfgLag = new Gauge({
    name: 'cfg_lag_versions',
    help: 'Versions this node is behind the newest it knows of (Redis cfg:version, or the database when Redis is down).',
    registers: [this.registry],
  });

  readonly cfgPropagation = new Histogram({
    name: 'cfg_propagation_seconds',
    help: "Time from a config change's commit to this node applying it.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly cfgPublishFailures = new Counter({
    name: 'cfg_publish_failures_total',
    help: 'After-commit steps that failed (l2, version, publish); healed by the sync loop.',
    labelNames: ['step'] as const,
    registers: [this.registry],
  });

  readonly redisUp = new Gauge({
    name: 'redis_up',
    help: '1 while the Redis command connection is ready, else 0 (the node is DEGRADED).',
    registers: [this.registry],
  });

  readonly httpConnectionsRefused = new Counter({
    name: 'http_connections_refused_total',
    help: 'Client connections closed on arrival because MAX_CONNECTIONS were open.',
    registers: [this.registry],
  });

  readonly httpConnectionsOpen = new Gauge({
    name: 'http_connections_open',
    help: 'Client connections open now.',
    registers: [this.registry],
  });

  readonly httpRequestsTimedOut = new Counter({
    name: 'http_requests_timed_out_total',
    help: 'Requests answered 408 and closed because the client sent its headers or body too slowly (HTTP_HEADERS_TIMEOUT, HTTP_REQUEST_TIMEOUT).',
    registers: [this.registry],
  });

  private loopDelay: IntervalHistogram | undefined;

  /**
   * Exports `event_loop_delay_seconds{stat}` (max, p99, p50, mean) measured by perf_hooks'
   * monitorEventLoopDelay since the previous scrape: how long a timer waited for the event loop,
   * the latency every request on this node paid on top of its own.
   */
  watchEventLoop(): void {
    if (this.loopDelay) return;
    const h = (this.loopDelay = monitorEventLoopDelay({ resolution: 10 }));
    h.enable();
    new Gauge({
      name: 'event_loop_delay_seconds',
      help: 'Event loop delay since the previous scrape (perf_hooks monitorEventLoopDelay, 10 ms resolution), by stat: max, p99, p50, mean.',
      labelNames: ['stat'] as const,
      registers: [this.registry],
      collect() {
        const ns = (v: number) => (Number.isFinite(v) ? v / 1e9 : 0);
        this.set({ stat: 'max' }, ns(h.max));
        this.set({ stat: 'p99' }, ns(h.percentile(99)));
        this.set({ stat: 'p50' }, ns(h.percentile(50)));
        this.set({ stat: 'mean' }, ns(h.mean));
        h.reset();
      },
    });
  }

  /** Stops the event-loop monitor (a stopped gateway). */
  close(): void {
    this.loopDelay?.disable();
  }

  /**
   * Exports the cooldown and breaker gauges (`channel_cooldown_seconds`,
   * `channel_breaker_state`), read from `snapshot` at each scrape.
   */
  watchChannelHealth(snapshot: () => HealthSnapshot[]): void {
    const breakerValue = { closed: 0, half_open: 1, open: 2 } as const;
    const labelNames = ['channel', 'model'] as const;
    new Gauge({
      name: 'channel_cooldown_seconds',
      help: 'Seconds left of a (channel, model) cooldown on this node (a 429; model "*": an unusable account); absent when none.',
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const h of snapshot())
          if (h.coolingUntil !== null)
            this.set({ channel: String(h.channelId), model: h.model }, (h.coolingUntil - now) / 1000);
      },
    });
    new Gauge({
      name: 'channel_breaker_state',
      help: "A (channel, model)'s circuit breaker on this node: 0 closed, 1 half-open, 2 open; absent until it has failed.",
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const h of snapshot())
          if (h.model !== '*')
            this.set({ channel: String(h.channelId), model: h.model }, breakerValue[h.breaker]);
      },
    });
  }

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
