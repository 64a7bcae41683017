import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Metrics } from '../obs/metrics.js';

/** Upper bounds (ms) of the latency buckets the admin API's percentiles are read from. */
const LATENCY_BUCKETS_MS = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, Infinity];
const MINUTE = 60_000;
/** How far back the admin API's stats reach. */
export const STATS_WINDOW_MINUTES = 15;

/** Outcomes that are not the channel's failure: the client's own 4xx, or a client gone. */
const NOT_CHANNEL_ERRORS = new Set(['ok', 'status_4xx', 'aborted']);

interface Tally {
  requests: number;
  errors: number;
  latencySumMs: number;
  buckets: number[];
}

/** A channel's upstream record over the last {@link STATS_WINDOW_MINUTES} minutes. */
export interface ChannelStatsView {
  window_minutes: number;
  requests: number;
  errors: number;
  error_rate: number;
  latency_avg_ms: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

const newTally = (): Tally => ({
  requests: 0,
  errors: 0,
  latencySumMs: 0,
  buckets: LATENCY_BUCKETS_MS.map(() => 0),
});

function addTo(t: Tally, errors: number, requests: number, latencySumMs: number, buckets: number[]): void {
  t.requests += requests;
  t.errors += errors;
  t.latencySumMs += latencySumMs;
  buckets.forEach((n, i) => (t.buckets[i]! += n));
}

/** The upper bound of the bucket holding quantile `q`; null without requests. */
function quantile(t: Tally, q: number): number | null {
  if (t.requests === 0) return null;
  let seen = 0;
  for (let i = 0; i < t.buckets.length; i++) {
    seen += t.buckets[i]!;
    if (seen >= q * t.requests) {
      const bound = LATENCY_BUCKETS_MS[i]!;
      return Number.isFinite(bound) ? bound : LATENCY_BUCKETS_MS[i - 1]!;
    }
  }
  return null;
}

function view(t: Tally): ChannelStatsView {
  return {
    window_minutes: STATS_WINDOW_MINUTES,
    requests: t.requests,
    errors: t.errors,
    error_rate: t.requests === 0 ? 0 : Math.round((t.errors / t.requests) * 10_000) / 10_000,
    latency_avg_ms: t.requests === 0 ? null : Math.round(t.latencySumMs / t.requests),
    latency_p50_ms: quantile(t, 0.5),
    latency_p95_ms: quantile(t, 0.95),
  };
}

/**
 * Every upstream attempt's outcome and latency: into Prometheus (`upstream_requests_total`,
 * `upstream_duration_seconds`) and into per-minute tallies per channel that the admin API shows
 * (requests, error rate, latency). A single node keeps the tallies in memory; a cluster node
 * adds its own to a Redis hash per minute every second (`{prefix}:stats:{minute}`), so the
 * admin API of any node shows the whole cluster's traffic.
 */
export class UpstreamStats {
  private readonly minutes = new Map<number, Map<number, Tally>>();
  private pending = new Map<number, Map<number, Tally>>();
  private timer: NodeJS.Timeout | undefined;
  /** Each label set's metric children, found once: prom-client hashes the labels on every call otherwise. */
  private readonly children = new Map<
    string,
    { count: { inc(): void }; time: { observe(v: number): void } }
  >();

  constructor(
    private readonly metrics: Metrics,
    private readonly redis?: { client: Redis; prefix: string; logger: Logger },
    private readonly now: () => number = Date.now,
  ) {}

  /** One attempt ended: `outcome` is ok or the failure's reason. */
  record(channelId: number, model: string, outcome: string, ms: number): void {
    const key = `${channelId}\u0000${model}\u0000${outcome}`;
    let child = this.children.get(key);
    if (!child) {
      const channel = String(channelId);
      child = {
        count: this.metrics.upstreamRequests.labels({ channel, model, outcome }),
        time: this.metrics.upstreamDuration.labels({ channel, outcome }),
      };
      this.children.set(key, child);
    }
    child.count.inc();
    child.time.observe(ms / 1000);
    const minute = Math.floor(this.now() / MINUTE);
    const into = this.redis ? this.pending : this.minutes;
    let byChannel = into.get(minute);
    if (!byChannel) into.set(minute, (byChannel = new Map()));
    let t = byChannel.get(channelId);
    if (!t) byChannel.set(channelId, (t = newTally()));
    t.requests++;
    if (!NOT_CHANNEL_ERRORS.has(outcome)) t.errors++;
    t.latencySumMs += ms;
    let b = 0;
    while (ms > LATENCY_BUCKETS_MS[b]!) b++;
    t.buckets[b]!++;
    if (!this.redis) this.trim(minute);
  }

  /** The last {@link STATS_WINDOW_MINUTES} minutes of each channel (of `ids`, or every one seen). */
  async read(ids?: readonly number[]): Promise<Map<number, ChannelStatsView>> {
    const first = Math.floor(this.now() / MINUTE) - STATS_WINDOW_MINUTES + 1;
    const totals = new Map<number, Tally>();
    const add = (channelId: number, e: number, r: number, s: number, b: number[]) => {
      if (ids && !ids.includes(channelId)) return;
      let t = totals.get(channelId);
      if (!t) totals.set(channelId, (t = newTally()));
      addTo(t, e, r, s, b);
    };
    if (this.redis) {
      const { client, prefix } = this.redis;
      const pipeline = client.pipeline();
      for (let m = first; m < first + STATS_WINDOW_MINUTES; m++) pipeline.hgetall(`${prefix}:stats:${m}`);
      for (const [err, hash] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        for (const [channelId, t] of decodeHash(hash as Record<string, string>))
          add(channelId, t.errors, t.requests, t.latencySumMs, t.buckets);
      }
    } else {
      for (const [minute, byChannel] of this.minutes) {
        if (minute < first) continue;
        for (const [channelId, t] of byChannel)
          add(channelId, t.errors, t.requests, t.latencySumMs, t.buckets);
      }
    }
    const out = new Map<number, ChannelStatsView>();
    for (const [channelId, t] of totals) out.set(channelId, view(t));
    return out;
  }

  /** Cluster: adds this node's tallies to Redis every `everyMs`. */
  start(everyMs = 1000): void {
    if (!this.redis || this.timer) return;
    this.timer = setInterval(() => void this.flush(), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes the pending tallies to Redis (HINCRBY per field, a pipeline per flush). */
  async flush(): Promise<void> {
    if (!this.redis || this.pending.size === 0) return;
    const { client, prefix, logger } = this.redis;
    const batch = this.pending;
    this.pending = new Map();
    const pipeline = client.pipeline();
    for (const [minute, byChannel] of batch) {
      const key = `${prefix}:stats:${minute}`;
      for (const [channelId, t] of byChannel) {
        pipeline.hincrby(key, `${channelId}:r`, t.requests);
        if (t.errors) pipeline.hincrby(key, `${channelId}:e`, t.errors);
        pipeline.hincrby(key, `${channelId}:s`, Math.round(t.latencySumMs));
        t.buckets.forEach((n, i) => {
          if (n) pipeline.hincrby(key, `${channelId}:b${i}`, n);
        });
      }
      pipeline.expire(key, (STATS_WINDOW_MINUTES + 5) * 60);
    }
    try {
      await pipeline.exec();
    } catch (err) {
      // Stats are not worth a retry queue: a Redis outage loses its seconds of tallies.
      logger.debug({ err: { message: (err as Error).message } }, 'upstream stats not written');
    }
  }

  private trim(minute: number): void {
    if (this.minutes.size <= STATS_WINDOW_MINUTES) return;
    for (const m of this.minutes.keys()) if (m <= minute - STATS_WINDOW_MINUTES) this.minutes.delete(m);
  }
}

/** `{channel}:{r|e|s|b<i>}` fields of one minute's hash, per channel. */
function decodeHash(hash: Record<string, string>): Map<number, Tally> {
  const out = new Map<number, Tally>();
  for (const [field, value] of Object.entries(hash)) {
    const sep = field.indexOf(':');
    const channelId = Number(field.slice(0, sep));
    const kind = field.slice(sep + 1);
    const n = Number(value);
    if (!Number.isSafeInteger(channelId) || !Number.isFinite(n)) continue;
    let t = out.get(channelId);
    if (!t) out.set(channelId, (t = newTally()));
    if (kind === 'r') t.requests += n;
    else if (kind === 'e') t.errors += n;
    else if (kind === 's') t.latencySumMs += n;
    else if (kind.startsWith('b')) {
      const i = Number(kind.slice(1));
      if (i >= 0 && i < t.buckets.length) t.buckets[i]! += n;
    }
  }
  return out;
}
