import type { Logger } from 'pino';
import type { ChargeEntry } from './billing-store.js';
import type { ChargeLedger } from './charge-ledger.js';

/**
 * The database path for settled charges when there is no Redis stream (a single node, or a
 * cluster node while Redis is away): charges are written in the next tick, all those settled
 * meanwhile in one transaction, so the hot path never waits on the database and nothing waits
 * longer than one write. A failed write is kept and retried; `stop()` writes what is left.
 */
export class ChargeWriter {
  private queue: ChargeEntry[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly ledger: ChargeLedger,
    private readonly logger: Logger,
    private readonly retryMs = 1000,
  ) {}

  /** Charges not written yet. */
  get pending(): number {
    return this.queue.length;
  }

  push(entry: ChargeEntry): void {
    this.queue.push(entry);
    this.scheduled ??= setImmediate(() => void this.flush());
  }

  async flush(): Promise<void> {
    this.scheduled = undefined;
    while (this.writing) await this.writing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.ledger.apply(batch).then(
      () => undefined,
      (err: unknown) => {
        this.queue = batch.concat(this.queue);
        this.logger.error({ err, charges: batch.length }, 'charges not written yet; will retry');
        this.scheduled ??= setTimeout(() => void this.flush(), this.retryMs);
      },
    );
    await this.writing;
    this.writing = undefined;
  }

  async stop(): Promise<void> {
    if (this.scheduled) {
      clearTimeout(this.scheduled as NodeJS.Timeout);
      clearImmediate(this.scheduled as NodeJS.Immediate);
    }
    await this.flush();
    if (this.scheduled) clearTimeout(this.scheduled as NodeJS.Timeout);
    this.scheduled = undefined;
  }
}
