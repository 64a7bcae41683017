import {
  type Admission,
  type AdmitResult,
  type BalanceOwner,
  type BillingStore,
  type ChargeEntry,
  type QuotaChange,
  type QuotaSource,
  type Settlement,
} from './billing-store.js';
import { correct, take } from './rate-bucket.js';

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
}

/**
 * The same semantics as the Redis store, in this process's memory: exact on a single node,
 * where every charge passes through here. A cluster node uses it only while Redis is away; its
 * balances are then re-read from the database every `refreshMs` (other nodes charge too).
 * Settled charges go to `record`, which writes them to the database.
 */
export class LocalBillingStore implements BillingStore {
  private readonly balances = new Map<string, Balance>();
  private readonly holds = new Map<string, Hold>();
  /** Per limiter key: its bucket's theoretical arrival time (ms); gone once the bucket is full. */
  private readonly buckets = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    private readonly loadQuota: QuotaSource,
    private readonly record: (entry: ChargeEntry) => void,
    private readonly refreshMs = Infinity,
    /** Tests move time with it; the windows read it. */
    private readonly clock: () => number = Date.now,
  ) {}

  async admit(a: Admission): Promise<AdmitResult> {
    const token = await this.balance('token', a.tokenId);
    const user = await this.balance('user', a.userId);
    if (!token) return { kind: 'quota', who: 'token' };
    if (!user) return { kind: 'quota', who: 'user' };
    // From here on nothing awaits: the check and the take are one step.
    const now = this.clock();
    this.sweep(now);
    const windows = [];
    const tats: number[] = [];
    for (let i = 0; i < a.limiters.length; i++) {
      const l = a.limiters[i]!;
      const t = take(this.buckets.get(l.key), now, l.limit, l.cost);
      if (!t.ok) return { kind: 'rate', limiter: i, retryAfterMs: t.retryAfterMs };
      tats.push(t.tat);
      windows.push({ remaining: t.remaining, resetMs: t.resetMs });
    }
    if (refuses(token, a.reserve)) return { kind: 'quota', who: 'token' };
    if (refuses(user, a.reserve)) return { kind: 'quota', who: 'user' };
    a.limiters.forEach((l, i) => {
      if (l.cost !== 0) this.buckets.set(l.key, tats[i]!);
    });
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
    });
    return { kind: 'ok', windows, tokenLimited: !token.unlimited, userLimited: !user.unlimited };
  }

  async settle(s: Settlement): Promise<void> {
    const hold = this.holds.get(s.chargeId);
    this.holds.delete(s.chargeId);
    const token = this.balances.get(key('token', s.tokenId));
    const user = this.balances.get(key('user', s.userId));
    // Without a hold here (admitted on Redis, settled here after Redis failed), a balance not
    // known to be unlimited is charged: the database leaves an unlimited (NULL) quota alone.
    const tokenLimited = hold ? hold.tokenLimited : !token?.unlimited;
    const userLimited = hold ? hold.userLimited : !user?.unlimited;
    const reserve = hold?.reserve ?? 0;
    if (tokenLimited && token) credit(token, reserve - s.quota, hold ? -reserve : 0);
    if (userLimited && user) credit(user, reserve - s.quota, hold ? -reserve : 0);
    if (hold && s.tokensDelta !== 0) {
      for (const w of s.tokenWindows) {
        const tat = this.buckets.get(w.key);
        if (tat !== undefined) this.buckets.set(w.key, correct(tat, w.limit, s.tokensDelta));
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
    const now = this.clock();
    this.sweep(now);
    const t = take(this.buckets.get(k), now, limit, 1);
    if (!t.ok) return { ok: false, retryAfterMs: t.retryAfterMs };
    this.buckets.set(k, t.tat);
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

  /** Drops full buckets (nothing taken for a minute), at most once a second. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [k, tat] of this.buckets) if (tat <= now) this.buckets.delete(k);
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
