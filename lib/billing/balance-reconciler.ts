import type { Logger } from 'pino';
import type { Db } from '../db/knex.js';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import {
  balanceEntry,
  type UsageLogRepository,
  type UsageRecord,
} from '../db/repositories/usage-log.repository.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import type { Metrics } from '../obs/metrics.js';
import type { BalanceOwner } from './billing-store.js';
import type { RedisBillingStore } from './redis-billing.store.js';

/** One balance the reconciliation repaired. */
export interface DriftRepair {
  who: BalanceOwner;
  id: number;
  /** Units added to the live balance's `left` (negative: taken). */
  drift: number;
  leftBefore: number;
}

export interface ReconcileResult {
  checked: number;
  repaired: DriftRepair[];
  /** True when the scan did not reach the end this run (the next run goes on). */
  more: boolean;
}

/** Balances read per SCAN step, and checked per run at most. */
const SCAN_STEP = 500;
const PER_RUN = 5000;

/**
 * Compares each live Redis balance with the database and repairs the difference: a limited
 * balance must hold `left + held + pend = quota` (pend: charges settled on Redis that usage-flush
 * has not written yet), read at one `quota_rev`. Run by usage-flush right after it has written
 * and acknowledged every charge it read (so `pend` and the database agree), under its lock.
 * Each repair is logged as a `reconcile` row in `usage_logs` (quota = the units added to the
 * live balance; the stored quota is not changed: the database is the book of record) and counted
 * in `billing_drift_repaired_units_total`.
 */
export class BalanceReconciler {
  private cursor = '0';

  constructor(
    private readonly store: RedisBillingStore,
    private readonly db: Db,
    private readonly tokens: TokenRepository,
    private readonly users: UserRepository,
    private readonly usage: UsageLogRepository,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<ReconcileResult> {
    let checked = 0;
    const repaired: DriftRepair[] = [];
    const userOf = new Map<number, number>();
    do {
      const step = await this.store.scanBalances(this.cursor, SCAN_STEP);
      this.cursor = step.cursor;
      for (const who of ['token', 'user'] as const) {
        const ids = [...new Set(step.balances.filter((b) => b.who === who).map((b) => b.id))];
        if (ids.length === 0) continue;
        const rows = await (who === 'token' ? this.tokens : this.users).quotasAtRev(ids);
        for (const id of ids) {
          const row = rows.get(id);
          if (!row) continue; // deleted: its balance is never used again
          if (who === 'token') userOf.set(id, row.userId);
          const r = await this.store.reconcile(who, id, row.quota, row.rev);
          // A balance nobody loaded (a hash recording only a change's revision) is not one to count.
          if (r.kind !== 'skip') checked++;
          if (r.kind === 'ok' && r.drift !== 0)
            repaired.push({ who, id, drift: r.drift, leftBefore: r.leftBefore });
        }
      }
    } while (this.cursor !== '0' && checked < PER_RUN);
    this.metrics.billingDriftBalances.set(repaired.length);
    if (repaired.length > 0) {
      for (const r of repaired)
        this.metrics.billingDriftRepaired.inc(
          { who: r.who, sign: r.drift > 0 ? 'up' : 'down' },
          Math.abs(r.drift),
        );
      await this.db.transaction((trx) =>
        this.usage.insertMany(
          trx,
          repaired.map((r) => row(r, userOf)),
        ),
      );
      this.logger.warn({ repaired }, 'live balances out of line with the database were repaired');
    }
    return { checked, repaired, more: this.cursor !== '0' };
  }
}

function row(r: DriftRepair, userOf: Map<number, number>): UsageRecord {
  return balanceEntry({
    type: 'reconcile',
    requestId: 'reconcile',
    userId: r.who === 'token' ? (userOf.get(r.id) ?? 0) : r.id,
    tokenId: r.who === 'token' ? r.id : null,
    quota: r.drift,
    note: `live ${r.who} balance ${r.drift > 0 ? 'raised' : 'lowered'} by ${Math.abs(r.drift)} (left was ${r.leftBefore}) to match the database`,
  });
}
