import type { Logger } from 'pino';
import type { ChargeRepository } from '../lib/db/repositories/charge.repository.js';
import type { RedisBillingStore } from '../lib/billing/redis-billing.store.js';
import type { NodeHeartbeats } from '../lib/cfg/node-heartbeat.js';
import type { Metrics } from '../lib/obs/metrics.js';

/** What one run did, as bull-board shows it. */
export interface UsageFlushResult {
  /** Charges read from the stream and acknowledged. */
  flushed: number;
  /** Of those, the ones new to the database (the rest were written by an earlier run). */
  written: number;
  reapedHolds: number;
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
  metrics: Metrics;
  logger: Logger;
}

/** A hold of a process with no heartbeat is refunded once it is this old (a crash, not a slow start). */
const DEAD_HOLD_AFTER_MS = 30_000;
const BATCH = 500;
const BUDGET_MS = 5_000;

/**
 * The `usage-flush` job: moves settled charges from the Redis stream to the database in
 * batches (usage rows and balances in one transaction, skipping charge ids already written),
 * then deletes them from the stream. A crash between the two steps replays the batch, which
 * charges nothing twice. It also refunds holds whose requests will never settle.
 */
export class UsageFlushProcessor {
  constructor(private readonly deps: UsageFlushDeps) {}

  async run(): Promise<UsageFlushResult> {
    const started = Date.now();
    const { store, charges } = this.deps;
    let flushed = 0;
    let written = 0;
    for (;;) {
      const batch = await store.pendingCharges(BATCH);
      if (batch.length === 0) break;
      written += await charges.apply(batch);
      await store.ackCharges(batch.map((c) => c.streamId));
      flushed += batch.length;
      if (batch.length < BATCH || Date.now() - started > BUDGET_MS) break;
    }
    const alive = new Set((await this.deps.heartbeats.list()).map((n) => `${n.nodeId}/${n.pid}`));
    const reapedHolds = await store.reapHolds(this.deps.holdTtlMs, DEAD_HOLD_AFTER_MS, alive);
    this.deps.metrics.usageFlushed.inc(written);
    const result = {
      flushed,
      written,
      reapedHolds,
      more: (await store.pendingCharges(1)).length > 0,
      ms: Date.now() - started,
    };
    this.deps.logger[written > 0 || reapedHolds > 0 ? 'debug' : 'trace'](result, 'usage-flush done');
    return result;
  }
}
