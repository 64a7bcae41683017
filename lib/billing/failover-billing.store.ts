import type { Logger } from 'pino';
import type {
  Admission,
  AdmitResult,
  BalanceOwner,
  BillingStore,
  QuotaChange,
  QuotaSource,
  Settlement,
} from './billing-store.js';
import type { LocalBillingStore } from './local-billing.store.js';
import type { RedisBillingStore } from './redis-billing.store.js';

/**
 * A cluster node's billing: Redis, and while Redis is away the local store on the database, so
 * the relay keeps serving (a DEGRADED node serves: docs/billing.md, "Where balances live"). What the database was charged in
 * that time is owed to the Redis balances and paid as soon as Redis answers again.
 * Trade-off while degraded: rate limits count per node, and balances are the database's,
 * re-read every few seconds.
 */
export class FailoverBillingStore implements BillingStore {
  /** Where each admitted request was admitted, so its settlement goes to the same place. */
  private readonly admittedLocally = new Set<string>();
  /** Per balance: quota to add to the Redis balance, or 'reload' to set it from the database. */
  private readonly owed = new Map<string, { who: BalanceOwner; id: number; delta: number | 'reload' }>();
  private repaying: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisBillingStore,
    private readonly local: LocalBillingStore,
    private readonly redisReady: () => boolean,
    private readonly loadQuota: QuotaSource,
    private readonly logger: Logger,
  ) {}

  async admit(a: Admission): Promise<AdmitResult> {
    if (this.redisReady()) {
      try {
        return await this.redis.admit(a);
      } catch (err) {
        this.warn(err, 'admit');
      }
    }
    const r = await this.local.admit(a);
    if (r.kind === 'ok') this.admittedLocally.add(a.chargeId);
    return r;
  }

  async settle(s: Settlement): Promise<void> {
    if (!this.admittedLocally.delete(s.chargeId) && this.redisReady()) {
      try {
        await this.redis.settle(s);
        return;
      } catch (err) {
        this.warn(err, 'settle');
      }
    }
    // Written to the database by the local path; the Redis hold (if any) is refunded by the
    // reaper, and the charge is owed to the Redis balances.
    await this.local.settle(s);
    if (s.quota > 0) {
      this.owe('token', s.tokenId, -s.quota);
      this.owe('user', s.userId, -s.quota);
    }
  }

  async changeQuota(c: QuotaChange): Promise<void> {
    await this.local.changeQuota(c);
    if (this.redisReady()) {
      try {
        await this.redis.changeQuota(c);
        return;
      } catch (err) {
        this.warn(err, 'change quota');
      }
    }
    this.owe(c.who, c.id, c.delta === null ? 'reload' : c.delta);
  }

  async hit(key: string, limit: number) {
    if (this.redisReady()) {
      try {
        return await this.redis.hit(key, limit);
      } catch (err) {
        this.warn(err, 'hit');
      }
    }
    return this.local.hit(key, limit);
  }

  /** Pays what the Redis balances are owed (call when Redis is back; safe to call any time). */
  repay(): Promise<void> {
    this.repaying ??= this.doRepay().finally(() => (this.repaying = undefined));
    return this.repaying;
  }

  get owedBalances(): number {
    return this.owed.size;
  }

  private async doRepay(): Promise<void> {
    if (!this.redisReady()) return;
    this.local.forgetBalances();
    for (const [k, o] of [...this.owed]) {
      try {
        if (o.delta === 'reload') {
          const quota = await this.loadQuota(o.who, o.id);
          if (quota !== undefined) await this.redis.changeQuota({ who: o.who, id: o.id, quota, delta: null });
        } else {
          await this.redis.changeQuota({
            who: o.who,
            id: o.id,
            quota: 0,
            delta: o.delta,
            owed: true,
          });
        }
        if (this.owed.get(k) === o) this.owed.delete(k);
      } catch (err) {
        this.warn(err, 'repay');
        return;
      }
    }
  }

  private owe(who: BalanceOwner, id: number, delta: number | 'reload'): void {
    const k = `${who}:${id}`;
    const was = this.owed.get(k);
    const next = was?.delta === 'reload' || delta === 'reload' ? 'reload' : (was?.delta ?? 0) + delta;
    this.owed.set(k, { who, id, delta: next });
  }

  private warn(err: unknown, step: string): void {
    this.logger.warn(
      { err: { message: (err as Error).message }, step },
      'billing on Redis failed; using the database',
    );
  }
}
