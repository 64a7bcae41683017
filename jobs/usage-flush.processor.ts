import type { Logger } from 'pino';
import type { ChargeRepository, WrittenCharges } from '../lib/db/repositories/charge.repository.js';
import type { BalanceReconciler, DriftRepair } from '../lib/billing/balance-reconciler.js';
import type { RedisBillingStore, StreamedCharge } from '../lib/billing/redis-billing.store.js';
import { isDataError } from '../lib/db/db-errors.js';
import type { NodeHeartbeats } from '../lib/cfg/node-heartbeat.js';
import type { Metrics } from '../lib/obs/metrics.js';

/** What one run did, as bull-board shows it. */
export interface UsageFlushResult {
  /** Charges read from the stream and acknowledged. */
  flushed: number;
  /** Of those, the ones new to the database (the rest were written by an earlier run). */
  written: number;
  /** Charges the database refused for their data, moved to `usage:dead` (an operator's to look at). */
  deadLettered: number;
  reapedHolds: number;
  /** Live balances compared with the database, and those repaired (see BalanceReconciler). */
  reconciled: number;
  repaired: DriftRepair[];
  /** True when another run held the flush lock: this one did nothing. */
  skipped?: boolean;
  /** True when the stream still held charges (the next run goes on). */
  more: boolean;
  ms: number;
}

export interface UsageFlushDeps {
  store: RedisBillingStore;
  charges: ChargeRepository;
  heartbeats: NodeHeartbeats;
  /** A hold older than this is refunded whatever its node's state. */
  holdTtlMs: number;
  /** Compares live balances with the database after each flush (none: not compared). */
  reconciler?: BalanceReconciler;
  metrics: Metrics;
  logger: Logger;
}

/** Each row's `quota_rev` after the commits that wrote a batch (see ChargeRepository.applyWithRevs). */
type Revs = Pick<WrittenCharges, 'tokenRevs' | 'userRevs'>;

/** A hold of a process with no heartbeat is refunded once it is this old (a crash, not a slow start). */
const DEAD_HOLD_AFTER_MS = 30_000;
const BATCH = 500;
const BUDGET_MS = 5_000;
/**
 * The flush lock outlives a run (the budget plus the reap and the reconciliation); a run that
 * dies holding it (its node killed, Redis failing under it) delays the next by this much at most.
 */
const LOCK_MS = 15_000;
/**
 * How long `done` remembers a charge, change or repay id: a script that runs later than this
 * after its call (or is repeated after this) could charge again. Calls time out after 1 s and
 * repays are retried every second, so an hour is far beyond any real delay.
 */
const DONE_KEEP_MS = 3_600_000;

/**
 * The `usage-flush` job: moves settled charges from the Redis stream to the database in
 * batches (usage rows and balances in one transaction, skipping charge ids already written),
 * then deletes them from the stream. A crash between the two steps replays the batch, which
 * charges nothing twice. A batch the database refuses for the data of one row is written row
 * by row, and a row it refuses is moved to `usage:dead` rather than blocking every later charge.
 * It also refunds holds whose requests will never settle, forgets old ids of the billing
 * scripts' `done` set, and compares every live balance with the database (BalanceReconciler).
 * One run at a time in the cluster (a lock in Redis).
 */
export class UsageFlushProcessor {
  constructor(private readonly deps: UsageFlushDeps) {}

  async run(): Promise<UsageFlushResult> {
    const started = Date.now();
    const result = await this.deps.store.withFlushLock(LOCK_MS, () => this.flush(started));
    return (
      result ?? {
        flushed: 0,
        written: 0,
        deadLettered: 0,
        reapedHolds: 0,
        reconciled: 0,
        repaired: [],
        skipped: true,
        more: false,
        ms: Date.now() - started,
      }
    );
  }

  private async flush(started: number): Promise<UsageFlushResult> {
    const { store, charges } = this.deps;
    let flushed = 0;
    let written = 0;
    let deadLettered = 0;
    let drained = false;
    for (;;) {
      const batch = await store.pendingCharges(BATCH);
      if (batch.length === 0) {
        drained = true;
        break;
      }
      let revs: Revs;
      try {
        const w = await charges.applyWithRevs(batch);
        written += w.fresh.size;
        revs = w;
      } catch (err) {
        // A lost connection or a lock: the whole batch is tried again next run.
        if (!isDataError(err)) throw err;
        const r = await this.rowByRow(batch);
        written += r.written;
        deadLettered += r.dead;
        revs = r;
      }
      // With the revisions the commits produced: a balance loaded meanwhile from the database
      // must neither miss these charges nor count them twice (see ack.lua).
      await store.ackCharges(batch, revs);
      flushed += batch.length;
      if (batch.length < BATCH) {
        drained = true;
        break;
      }
      if (Date.now() - started > BUDGET_MS) break;
    }
    const alive = new Set((await this.deps.heartbeats.list()).map((n) => `${n.nodeId}/${n.pid}`));
    const reapedHolds = await store.reapHolds(this.deps.holdTtlMs, DEAD_HOLD_AFTER_MS, alive);
    await store.trimDone(DONE_KEEP_MS);
    // Compared only once everything read is written and acknowledged: `pend` then agrees with
    // the database (charges settled meanwhile are in both `pend` and the stream, not the database).
    const rec = drained && this.deps.reconciler ? await this.deps.reconciler.run() : undefined;
    this.deps.metrics.usageFlushed.inc(written);
    const result = {
      flushed,
      written,
      deadLettered,
      reapedHolds,
      reconciled: rec?.checked ?? 0,
      repaired: rec?.repaired ?? [],
      more: (await store.pendingCharges(1)).length > 0,
      ms: Date.now() - started,
    };
    this.deps.logger[deadLettered > 0 ? 'error' : written > 0 || reapedHolds > 0 ? 'debug' : 'trace'](
      result,
      deadLettered > 0
        ? 'usage-flush: charges the database refused were moved to usage:dead'
        : 'usage-flush done',
    );
    return result;
  }

  private async rowByRow(batch: StreamedCharge[]): Promise<Revs & { written: number; dead: number }> {
    let written = 0;
    let dead = 0;
    const tokenRevs = new Map<number, number>();
    const userRevs = new Map<number, number>();
    const newest = (into: Map<number, number>, from: Map<number, number>) => {
      for (const [id, rev] of from) into.set(id, Math.max(rev, into.get(id) ?? 0));
    };
    for (const charge of batch) {
      try {
        const w = await this.deps.charges.applyWithRevs([charge]);
        written += w.fresh.size;
        newest(tokenRevs, w.tokenRevs);
        newest(userRevs, w.userRevs);
      } catch (err) {
        if (!isDataError(err)) throw err;
        // The driver's own words ("Data too long for column 'model'"), not knex's copy of the SQL.
        const e = err as { sqlMessage?: string; message: string };
        await this.deps.store.deadLetter(charge, e.sqlMessage ?? e.message);
        dead++;
      }
    }
    return { written, dead, tokenRevs, userRevs };
  }
}
