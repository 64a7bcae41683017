import {
  WINDOW_SECONDS,
  type Admission,
  type AdmitResult,
  type BalanceOwner,
  type BillingStore,
  type ChargeEntry,
  type QuotaChange,
  type QuotaSource,
  type Settlement,
} from './billing-store.js';

interface Balance {
  left: number;
  unlimited: boolean;
  held: number;
  loadedAt: number;
}

interface Hold {
  tokenId: number;
  userId: number;
  reserve: number;
  tokenLimited: boolean;
  userLimited: boolean;
  sec: number;
}

/** One-second buckets of one rate window. */
type Window = Map<number, number>;

/**
 * The same semantics as the Redis store, in this process's memory: exact on a single node,
 * where every charge passes through here. A cluster node uses it only while Redis is away; its
 * balances are then re-read from the database every `refreshMs` (other nodes charge too).
 * Settled charges go to `record`, which writes them to the database.
 */
export class LocalBillingStore implements BillingStore {
  private readonly balances = new Map<string, Balance>();
  private readonly holds = new Map<string, Hold>();
  private readonly windows = new Map<string, Window>();
  private lastSweep = 0;

  constructor(
    private readonly loadQuota: QuotaSource,
    private readonly record: (entry: ChargeEntry) => void,
    private readonly refreshMs = Infinity,
  ) {}

  async admit(a: Admission): Promise<AdmitResult> {
    const token = await this.balance('token', a.tokenId);
    const user = await this.balance('user', a.userId);
    if (!token) return { kind: 'quota', who: 'token' };
    if (!user) return { kind: 'quota', who: 'user' };
    // From here on nothing awaits: the check and the take are one step.
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    this.sweep(sec);
    const windows = [];
    for (let i = 0; i < a.limiters.length; i++) {
      const l = a.limiters[i]!;
      const { sum, buckets } = this.window(l.key, sec);
      if (sum + l.cost > l.limit)
        return { kind: 'rate', limiter: i, retryAfterMs: waitMs(buckets, sum, l.limit, l.cost, now) };
      windows.push({
        remaining: l.limit - sum - l.cost,
        resetMs: ((buckets[0]?.[0] ?? sec) + WINDOW_SECONDS) * 1000 - now,
      });
    }
    if (refuses(token, a.reserve)) return { kind: 'quota', who: 'token' };
    if (refuses(user, a.reserve)) return { kind: 'quota', who: 'user' };
    for (const l of a.limiters) {
      if (l.cost === 0) continue;
      const w = this.windows.get(l.key) ?? new Map<number, number>();
      w.set(sec, (w.get(sec) ?? 0) + l.cost);
      this.windows.set(l.key, w);
    }
    for (const b of [token, user]) {
      if (b.unlimited) continue;
      b.left -= a.reserve;
      b.held += a.reserve;
    }
    this.holds.set(a.chargeId, {
      tokenId: a.tokenId,
      userId: a.userId,
      reserve: a.reserve,
      tokenLimited: !token.unlimited,
      userLimited: !user.unlimited,
      sec,
    });
    return { kind: 'ok', windows, tokenLimited: !token.unlimited, userLimited: !user.unlimited };
  }

  async settle(s: Settlement): Promise<void> {
    const hold = this.holds.get(s.chargeId);
    this.holds.delete(s.chargeId);
    const token = this.balances.get(key('token', s.tokenId));
    const user = this.balances.get(key('user', s.userId));
    const tokenLimited = hold ? hold.tokenLimited : token !== undefined && !token.unlimited;
    const userLimited = hold ? hold.userLimited : user !== undefined && !user.unlimited;
    const reserve = hold?.reserve ?? 0;
    if (tokenLimited && token) credit(token, reserve - s.quota, hold ? -reserve : 0);
    if (userLimited && user) credit(user, reserve - s.quota, hold ? -reserve : 0);
    if (hold && s.tokensDelta !== 0) {
      for (const k of s.tokenWindows) {
        const w = this.windows.get(k);
        if (w) w.set(hold.sec, (w.get(hold.sec) ?? 0) + s.tokensDelta);
      }
    }
    this.record({ usage: s.usage, tokenLimited, userLimited });
  }

  async changeQuota(c: QuotaChange): Promise<void> {
    const b = this.balances.get(key(c.who, c.id));
    if (!b) return; // loaded from the database, with the change, on first use
    if (c.quota === null) b.unlimited = true;
    else if (c.delta === null || b.unlimited) {
      b.unlimited = false;
      b.left = c.quota - b.held;
    } else b.left += c.delta;
  }

  async hit(k: string, limit: number): Promise<{ ok: boolean; retryAfterMs: number }> {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    this.sweep(sec);
    const { sum, buckets } = this.window(k, sec);
    if (sum + 1 > limit) return { ok: false, retryAfterMs: waitMs(buckets, sum, limit, 1, now) };
    const w = this.windows.get(k) ?? new Map<number, number>();
    w.set(sec, (w.get(sec) ?? 0) + 1);
    this.windows.set(k, w);
    return { ok: true, retryAfterMs: 0 };
  }

  /** Forgets balances so they are read from the database again (a cluster node back on Redis). */
  forgetBalances(): void {
    for (const [k, b] of this.balances) if (b.held === 0) this.balances.delete(k);
  }

  private async balance(who: BalanceOwner, id: number): Promise<Balance | undefined> {
    const k = key(who, id);
    const known = this.balances.get(k);
    if (known && known.loadedAt + this.refreshMs > Date.now()) return known;
    const quota = await this.loadQuota(who, id);
    if (quota === undefined) return undefined;
    const again = this.balances.get(k);
    if (again && again.loadedAt + this.refreshMs > Date.now()) return again; // loaded meanwhile
    const held = again?.held ?? 0;
    const b = { left: (quota ?? 0) - held, unlimited: quota === null, held, loadedAt: Date.now() };
    this.balances.set(k, b);
    return b;
  }

  private window(k: string, sec: number): { sum: number; buckets: [number, number][] } {
    const w = this.windows.get(k);
    if (!w) return { sum: 0, buckets: [] };
    let sum = 0;
    const buckets: [number, number][] = [];
    for (const [b, c] of w) {
      if (b <= sec - WINDOW_SECONDS) w.delete(b);
      else {
        sum += c;
        buckets.push([b, c]);
      }
    }
    buckets.sort((x, y) => x[0] - y[0]);
    return { sum, buckets };
  }

  /** Drops windows with nothing left in them, at most once a second. */
  private sweep(sec: number): void {
    if (sec === this.lastSweep) return;
    this.lastSweep = sec;
    for (const [k, w] of this.windows) {
      for (const b of w.keys()) if (b <= sec - WINDOW_SECONDS) w.delete(b);
      if (w.size === 0) this.windows.delete(k);
    }
  }
}

function key(who: BalanceOwner, id: number): string {
  return `${who}:${id}`;
}

function refuses(b: Balance, reserve: number): boolean {
  return !b.unlimited && (b.left <= 0 || b.left < reserve);
}

function credit(b: Balance, left: number, held: number): void {
  b.left += left;
  b.held += held;
}

function waitMs(buckets: [number, number][], sum: number, limit: number, cost: number, now: number): number {
  if (cost > limit) return -1;
  let excess = sum + cost - limit;
  for (const [b, c] of buckets) {
    excess -= c;
    if (excess <= 0) return (b + WINDOW_SECONDS) * 1000 - now;
  }
  return WINDOW_SECONDS * 1000;
}
