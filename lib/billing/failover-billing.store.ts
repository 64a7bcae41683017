import type { Logger } from 'pino';
import type { ChargeEntry, WrittenCharges } from '../db/repositories/charge.repository.js';
import type { Admission, AdmitResult, BillingStore, QuotaChange, Settlement } from './billing-store.js';
import type { LocalBillingStore } from './local-billing.store.js';
import type { SettlementJournal } from './settlement-journal.js';
import {
  BalanceLoadRefusedError,
  BalanceSourceError,
  type RedisBillingStore,
  type RepayOp,
} from './redis-billing.store.js';

/** Requests closed on Redis in one script call at most. */
const REPAY_BATCH = 200;
/** After a repay failed, charges written meanwhile wait for the timer (every second) rather than trying again at once. */
const REPAY_RETRY_MS = 1000;

/**
 * A cluster node's billing: Redis, and while Redis fails a call, the local store on the
 * database, so the relay keeps serving (a DEGRADED node serves: docs/billing.md, "Where balances
 * live"). Trade-off while degraded: rate
 * limits count per node, and balances are the database's, re-read every few seconds.
 *
 * A call that failed on Redis may still run there later (a timeout under `CLIENT PAUSE` is not a
 * refusal), so a request taken to the database is closed on Redis by its charge id as soon as
 * Redis answers: first a cancel (any hold a late admit took is refunded, and no admit or settle
 * of that id runs any more), then, once the database holds the charge, the charge itself with
 * each row's `quota_rev`, which a balance loaded from the database after the charge already holds
 * (so it is not charged twice). Every step is idempotent (see repay.lua); whichever of a late
 * settle and the repay lands first charges, the other does nothing.
 */
export class FailoverBillingStore implements BillingStore {
  /** Where each admitted request was admitted, so its settlement goes to the same place. */
  private readonly admittedLocally = new Set<string>();
  /** Requests to close on Redis, by charge id (a charge replaces a cancel). */
  private readonly owedOps = new Map<string, RepayOp>();
  /** Admin quota changes Redis has not taken yet, by change id. */
  private readonly owedChanges = new Map<string, QuotaChange>();
  private repaying: Promise<void> | undefined;
  private repayAgain = false;
  /** When the last repay failed (0: it did not): a Redis that answers but fails is not asked at every batch. */
  private repayFailedAt = 0;

  constructor(
    private readonly redis: RedisBillingStore,
    private readonly local: LocalBillingStore,
    private readonly redisReady: () => boolean,
    private readonly logger: Logger,
    /** Keeps what was settled on Redis until the database holds it (see SettlementJournal). */
    private readonly journal?: SettlementJournal,
  ) {}

  async admit(a: Admission): Promise<AdmitResult> {
    if (this.redisReady()) {
      try {
        return await this.redis.admit(a);
      } catch (err) {
        // The database failed, not Redis: the local path would need it too (a 503 for this request).
        if (err instanceof BalanceSourceError) throw err.cause;
        this.warn(err, 'admit');
        this.cancel(a.chargeId);
      }
    }
    const r = await this.local.admit(a);
    if (r.kind === 'ok') this.admittedLocally.add(a.chargeId);
    return r;
  }

  async settle(s: Settlement): Promise<void> {
    if (!this.admittedLocally.delete(s.chargeId)) {
      if (this.redisReady()) {
        try {
          await this.redis.settle(s);
          // Limited unless known otherwise: the database leaves an unlimited (NULL) quota alone.
          this.journal?.add({ usage: s.usage, tokenLimited: true, userLimited: true });
          return;
        } catch (err) {
          this.warn(err, 'settle');
        }
      }
      // Admitted on Redis, settled here: its hold there is refunded by the cancel.
      this.cancel(s.chargeId);
    }
    // Written to the database by the local path; {@link charged} learns when.
    await this.local.settle(s);
  }

  /**
   * The local path wrote `entries` (see ChargeWriter): each is owed to the Redis balances, with
   * the revisions that tell a balance whether it holds it already.
   */
  charged(entries: ChargeEntry[], written: WrittenCharges): void {
    for (const e of entries) {
      const u = e.usage;
      const fresh = written.fresh.has(u.chargeId);
      this.owedOps.set(u.chargeId, {
        kind: 'charge',
        chargeId: u.chargeId,
        tokenId: u.tokenId,
        userId: u.userId,
        quota: u.quota,
        // A charge written before (by usage-flush) came from Redis: nothing to take there.
        tokenRev: fresh && e.tokenLimited && u.tokenId !== null ? (written.tokenRevs.get(u.tokenId) ?? 0) : 0,
        userRev: fresh && e.userLimited ? (written.userRevs.get(u.userId) ?? 0) : 0,
      });
    }
    // Paid at once when Redis answers (a journal re-send, a request that settled here after
    // Redis came back): until then the live balances miss charges the database holds.
    if (this.redisReady() && Date.now() - this.repayFailedAt >= REPAY_RETRY_MS) void this.repay();
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
    this.owedChanges.set(c.changeId, c);
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

  /**
   * Closes on Redis what was taken elsewhere (call when Redis is back; safe to call any time).
   * A call while a repay runs makes it go round once more for what was owed meanwhile.
   */
  repay(): Promise<void> {
    if (this.repaying) {
      this.repayAgain = true;
      return this.repaying;
    }
    this.repaying = (async () => {
      let paid: boolean;
      do {
        this.repayAgain = false;
        paid = await this.doRepay();
      } while (paid && this.repayAgain && this.owed > 0 && this.redisReady());
    })().finally(() => (this.repaying = undefined));
    return this.repaying;
  }

  /** Requests and quota changes Redis has yet to be told of. */
  get owed(): number {
    return this.owedOps.size + this.owedChanges.size;
  }

  private cancel(chargeId: string): void {
    if (!this.owedOps.has(chargeId)) this.owedOps.set(chargeId, { kind: 'cancel', chargeId });
  }

  /** One pass over what is owed; false when Redis failed it (what is left stays owed). */
  private async doRepay(): Promise<boolean> {
    if (!this.redisReady()) return false;
    try {
      for (const [id, c] of [...this.owedChanges]) {
        await this.redis.changeQuota(c);
        this.owedChanges.delete(id);
      }
      const ops = [...this.owedOps.values()];
      for (let i = 0; i < ops.length; i += REPAY_BATCH) {
        const batch = ops.slice(i, i + REPAY_BATCH);
        await this.redis.repay(batch);
        // A cancel may have become a charge meanwhile: that one is still owed.
        for (const o of batch) if (this.owedOps.get(o.chargeId) === o) this.owedOps.delete(o.chargeId);
      }
      this.repayFailedAt = 0;
      // Redis holds what this node took elsewhere: the local balances are read afresh when next needed.
      this.local.forgetBalances();
      return true;
    } catch (err) {
      this.repayFailedAt = Date.now();
      this.warn(err, 'repay');
      return false;
    }
  }

  private warn(err: unknown, step: string): void {
    this.logger.warn(
      { err: { message: (err as Error).message }, step },
      err instanceof BalanceLoadRefusedError
        ? 'a balance kept changing in the database while Redis loaded it; this request uses the database'
        : 'billing on Redis failed; using the database',
    );
  }
}
