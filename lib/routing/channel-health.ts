/** What an upstream failure says about the channel. */
export type FailureKind =
  /** 5xx, timeouts, refused or reset connections, broken bodies: counted by the circuit breaker. */
  | 'fault'
  /** A 429: the channel asks for a pause (`Retry-After`). */
  | 'rate_limited'
  /** The account is unusable (refused key, no credit): skipped on every model while it is disabled. */
  | 'unusable';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** A change of a (channel, model)'s health that every node applies (shared through Redis in a cluster). */
export interface HealthMessage {
  channelId: number;
  /** `*`: the whole channel. */
  model: string;
  /**
   * `cool`: skip until `until`; `open`: breaker open until `until`; `close`: a probe passed;
   * `reset`: the channel was re-enabled, forget all of its health.
   */
  kind: 'cool' | 'open' | 'close' | 'reset';
  until: number;
  /** When the failure behind it happened (ms). */
  at: number;
  reason?: string;
}

/** Where a node's health changes go so that the other nodes learn them. */
export interface HealthShare {
  /** Resolves once the other nodes can learn of it (never rejects). */
  publish(message: HealthMessage): Promise<void>;
}

export interface BreakerOptions {
  /** The sliding window the failure rate is measured over. */
  windowMs: number;
  /** Attempts within the window before the rate counts. */
  minRequests: number;
  /** Failure rate (0-1] at or above which the breaker opens. */
  failureRate: number;
  /** How long the breaker stays open the first time; doubled after each failed probe. */
  openMs: number;
  /** The longest it stays open. */
  openMaxMs: number;
}

export const ANY_MODEL = '*';
const BUCKETS = 10;
/** A half-open probe that never reported (its node's request vanished) frees the slot after this. */
const PROBE_STALE_MS = 120_000;

/** Attempts and failures over a sliding window, in ten buckets. */
class SlidingWindow {
  private readonly total = new Uint32Array(BUCKETS);
  private readonly failed = new Uint32Array(BUCKETS);
  private readonly stamp = new Float64Array(BUCKETS).fill(-1);

  constructor(private readonly bucketMs: number) {}

  add(now: number, failed: boolean): void {
    const b = Math.floor(now / this.bucketMs);
    const i = b % BUCKETS;
    if (this.stamp[i] !== b) {
      this.stamp[i] = b;
      this.total[i] = 0;
      this.failed[i] = 0;
    }
    this.total[i]!++;
    if (failed) this.failed[i]!++;
  }

  counts(now: number): { total: number; failed: number } {
    const b = Math.floor(now / this.bucketMs);
    let total = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.stamp[i]! > b - BUCKETS) {
        total += this.total[i]!;
        failed += this.failed[i]!;
      }
    }
    return { total, failed };
  }

  reset(): void {
    this.stamp.fill(-1);
  }
}

interface Entry {
  channelId: number;
  model: string;
  coolUntil: number;
  coolReason: string;
  state: BreakerState;
  openUntil: number;
  openMs: number;
  probeSince: number;
  lastFailedAt: number;
  window: SlidingWindow;
}

/** A (channel, model)'s health as the admin API and metrics show it. */
export interface HealthSnapshot {
  channelId: number;
  model: string;
  coolingUntil: number | null;
  coolReason: string | null;
  breaker: BreakerState;
  openUntil: number | null;
  lastFailedAt: number | null;
  windowRequests: number;
  windowFailures: number;
}

/**
 * The health of each (channel, model) on this node: cooldowns (a 429's `Retry-After`, a refused
 * key) and a circuit breaker (failure rate over a sliding window, with a minimum number of
 * attempts; open, then half-open with one probe at a time; a passing probe closes it, a
 * failing one reopens it for twice as long). Routing asks {@link blocked} with no I/O; every
 * cooldown and breaker change is also published, and the other nodes apply it.
 */
export class ChannelHealth {
  /** channel id → model (or `*`) → entry. */
  private readonly channels = new Map<number, Map<string, Entry>>();

  constructor(
    private readonly opts: BreakerOptions,
    private readonly share?: HealthShare,
    private readonly now: () => number = Date.now,
  ) {}

  /** True while the channel should be passed over for `model`: cooling, open, or half-open with a probe out. */
  blocked(channelId: number, model: string): boolean {
    const models = this.channels.get(channelId);
    if (!models) return false;
    const now = this.now();
    const whole = models.get(ANY_MODEL);
    if (whole && whole.coolUntil > now) return true;
    const e = models.get(model);
    if (!e) return false;
    if (e.coolUntil > now) return true;
    if (e.state === 'open') {
      if (e.openUntil > now) return true;
      e.state = 'half_open';
      e.probeSince = 0;
    }
    return e.state === 'half_open' && e.probeSince > now - PROBE_STALE_MS;
  }

  /**
   * An attempt on (channel, model) starts. On a half-open breaker it becomes the probe (the
   * only attempt until it reports): returns true then.
   */
  begin(channelId: number, model: string): boolean {
    const e = this.channels.get(channelId)?.get(model);
    if (!e || e.state === 'closed') return false;
    const now = this.now();
    if (e.state === 'open' && e.openUntil <= now) e.state = 'half_open';
    if (e.state !== 'half_open') return false;
    e.probeSince = now;
    return true;
  }

  /** The attempt reached the client. A half-open probe that passes closes the breaker everywhere. */
  succeeded(channelId: number, model: string): void {
    const now = this.now();
    const e = this.entry(channelId, model);
    e.window.add(now, false);
    // Closed: nothing to do. Open: an attempt that was under way when it opened proves nothing.
    if (e.state === 'closed' || (e.state === 'open' && e.openUntil > now)) return;
    this.close(e);
    void this.share?.publish({ channelId, model, kind: 'close', until: now, at: now });
  }

  /** An attempt that ended without a verdict (the client went away): frees a probe slot. */
  abandoned(channelId: number, model: string): void {
    const e = this.channels.get(channelId)?.get(model);
    if (e) e.probeSince = 0;
  }

  /**
   * The attempt failed. `pauseMs` is how long a cooldown lasts (a 429's Retry-After, or the
   * default for its kind); `probe` says the attempt was a half-open breaker's probe.
   */
  failed(
    channelId: number,
    model: string,
    kind: FailureKind,
    pauseMs: number,
    reason: string,
    probe = false,
  ): void {
    const now = this.now();
    if (kind !== 'fault') {
      const target = kind === 'unusable' ? ANY_MODEL : model;
      const e = this.entry(channelId, target);
      e.lastFailedAt = now;
      e.coolUntil = Math.max(e.coolUntil, now + pauseMs);
      e.coolReason = reason;
      void this.share?.publish({
        channelId,
        model: target,
        kind: 'cool',
        until: e.coolUntil,
        at: now,
        reason,
      });
      return;
    }
    const e = this.entry(channelId, model);
    e.lastFailedAt = now;
    e.window.add(now, true);
    let open = false;
    if (e.state !== 'closed') {
      // Attempts that were under way when the breaker opened change nothing; a failed probe
      // opens it again, for longer.
      if (!probe) return;
      e.openMs = Math.min(this.opts.openMaxMs, e.openMs * 2);
      open = true;
    } else {
      const { total, failed } = e.window.counts(now);
      open = total >= this.opts.minRequests && failed >= total * this.opts.failureRate;
    }
    if (!open) return;
    e.state = 'open';
    e.openUntil = now + e.openMs;
    e.probeSince = 0;
    e.coolReason = reason;
    void this.share?.publish({ channelId, model, kind: 'open', until: e.openUntil, at: now, reason });
  }

  /** A change published by another node (or read from Redis at start). */
  apply(m: HealthMessage): void {
    if (m.kind === 'reset') return this.forget(m.channelId);
    const e = this.entry(m.channelId, m.model);
    if (m.kind === 'cool') {
      e.coolUntil = Math.max(e.coolUntil, m.until);
      e.coolReason = m.reason ?? e.coolReason;
      e.lastFailedAt = Math.max(e.lastFailedAt, m.at);
    } else if (m.kind === 'open') {
      e.lastFailedAt = Math.max(e.lastFailedAt, m.at);
      if (m.until > e.openUntil) {
        e.state = 'open';
        e.openUntil = m.until;
        e.openMs = Math.max(e.openMs, Math.min(this.opts.openMaxMs, m.until - m.at));
        e.probeSince = 0;
        e.coolReason = m.reason ?? e.coolReason;
      }
    } else if (e.state !== 'closed' && e.lastFailedAt <= m.at) {
      // Closed by a passing probe elsewhere, unless this node saw a failure since.
      this.close(e);
    }
  }

  /** When (channel, model) last failed (ms; 0 never): all blocked, the least recently failed is tried. */
  lastFailedAt(channelId: number, model: string): number {
    const models = this.channels.get(channelId);
    if (!models) return 0;
    return Math.max(models.get(model)?.lastFailedAt ?? 0, models.get(ANY_MODEL)?.lastFailedAt ?? 0);
  }

  /** Every (channel, model) with a failure or a cooldown on record, for the admin API and metrics. */
  snapshot(): HealthSnapshot[] {
    const now = this.now();
    const out: HealthSnapshot[] = [];
    for (const e of this.all()) {
      const { total, failed } = e.window.counts(now);
      const cooling = e.coolUntil > now;
      if (!cooling && e.state === 'closed' && failed === 0 && e.lastFailedAt === 0) continue;
      const state = e.state === 'open' && e.openUntil <= now ? 'half_open' : e.state;
      out.push({
        channelId: e.channelId,
        model: e.model,
        coolingUntil: cooling ? e.coolUntil : null,
        coolReason: cooling || state !== 'closed' ? e.coolReason || null : null,
        breaker: state,
        openUntil: state === 'open' ? e.openUntil : null,
        lastFailedAt: e.lastFailedAt || null,
        windowRequests: total,
        windowFailures: failed,
      });
    }
    return out;
  }

  /**
   * A channel is being (re-)enabled: it starts with a clean slate here and on every node.
   * Resolves once the reset is shared, so it can go out before the channel is routable again.
   */
  reset(channelId: number): Promise<void> {
    const now = this.now();
    this.forget(channelId);
    return (
      this.share?.publish({ channelId, model: ANY_MODEL, kind: 'reset', until: now, at: now }) ??
      Promise.resolve()
    );
  }

  private forget(channelId: number): void {
    this.channels.delete(channelId);
  }

  private *all(): Iterable<Entry> {
    for (const models of this.channels.values()) yield* models.values();
  }

  private close(e: Entry): void {
    e.state = 'closed';
    e.openUntil = 0;
    e.openMs = this.opts.openMs;
    e.probeSince = 0;
    e.window.reset();
  }

  private entry(channelId: number, model: string): Entry {
    let models = this.channels.get(channelId);
    if (!models) this.channels.set(channelId, (models = new Map()));
    let e = models.get(model);
    if (!e) {
      e = {
        channelId,
        model,
        coolUntil: 0,
        coolReason: '',
        state: 'closed',
        openUntil: 0,
        openMs: this.opts.openMs,
        probeSince: 0,
        lastFailedAt: 0,
        window: new SlidingWindow(Math.max(1, Math.ceil(this.opts.windowMs / BUCKETS))),
      };
      models.set(model, e);
    }
    return e;
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds; undefined when absent or bad. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text.trim())) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
