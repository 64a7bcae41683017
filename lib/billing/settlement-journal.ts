import type { Logger } from 'pino';
import type { ChargeEntry } from './billing-store.js';

interface Journaled {
  entry: ChargeEntry;
  at: number;
}

/** What one check found. */
export interface JournalCheck {
  /** Charges the database holds now: forgotten. */
  confirmed: number;
  /** Charges Redis lost (it was restarted empty before usage-flush wrote them): written here. */
  rewritten: number;
}

/**
 * A node's copy of the charges it settled on Redis, kept until the database holds them. A Redis
 * that dies loses the usage stream with it: without this copy, what was settled and answered
 * in the last flush interval before the crash would never be charged. Each check (every couple
 * of seconds) asks the database which of the charges older than `checkAfterMs` it holds, and
 * asks Redis whether it still knows the others (its `done` set): a charge neither holds was lost
 * with Redis and is written by the node's own database path (idempotent by charge id; the
 * failover store then pays it to the reloaded balance unless the load already holds it).
 */
export class SettlementJournal {
  private readonly entries = new Map<string, Journaled>();

  constructor(
    private readonly deps: {
      /** The charge ids the database holds. */
      inDatabase(ids: string[]): Promise<Set<string>>;
      /** Per id: true while Redis still knows the charge (settled there, not lost). */
      inRedis(ids: string[]): Promise<boolean[]>;
      /** Writes a lost charge through the database path. */
      rewrite(entry: ChargeEntry): void;
      logger: Logger;
    },
    private readonly opts = { checkAfterMs: 3000, giveUpAfterMs: 600_000, max: 200_000, batch: 1000 },
  ) {}

  add(entry: ChargeEntry, now = Date.now()): void {
    if (this.entries.size >= this.opts.max) {
      // Bounded: the oldest go first (usage-flush is far behind; the reconciliation still holds the balances).
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(entry.usage.chargeId, { entry, at: now });
  }

  get size(): number {
    return this.entries.size;
  }

  async check(now = Date.now()): Promise<JournalCheck> {
    const due: Journaled[] = [];
    for (const j of this.entries.values()) {
      if (now - j.at < this.opts.checkAfterMs || due.length >= this.opts.batch) break;
      due.push(j);
    }
    if (due.length === 0) return { confirmed: 0, rewritten: 0 };
    const held = await this.deps.inDatabase(due.map((j) => j.entry.usage.chargeId));
    const open = due.filter((j) => !held.has(j.entry.usage.chargeId));
    for (const j of due) if (held.has(j.entry.usage.chargeId)) this.entries.delete(j.entry.usage.chargeId);
    let rewritten = 0;
    if (open.length > 0) {
      const known = await this.deps.inRedis(open.map((j) => j.entry.usage.chargeId));
      open.forEach((j, i) => {
        const id = j.entry.usage.chargeId;
        if (!known[i]) {
          this.deps.rewrite(j.entry);
          this.entries.delete(id);
          rewritten++;
        } else if (now - j.at > this.opts.giveUpAfterMs) {
          // Still in Redis but never written (dead-lettered, or usage-flush stopped): left to them.
          this.entries.delete(id);
        }
      });
      if (rewritten > 0)
        this.deps.logger.warn(
          { rewritten },
          'charges Redis lost before they were flushed were written to the database',
        );
    }
    return { confirmed: held.size, rewritten };
  }
}
