import type { Logger } from 'pino';
import type { ChargeEntry } from './billing-store.js';
import type { ChargeRepository, WrittenCharges } from '../db/repositories/charge.repository.js';

/**
 * The database path for settled charges when there is no Redis stream (a single node, or a
 * cluster node while Redis is away): charges are written in batches, all those settled within
 * `maxDelayMs` (or `maxBatch` of them, whichever comes first) in one transaction, so the hot
 * path never waits on the database. A transaction per request through knex halved a single
 * node's throughput; with prepared statements (ChargeRepository) a transaction costs ~0.1 ms,
 * so a 10 ms window keeps that small while bounding what a process killed outright can lose:
 * the charges of its last window. A failed write is kept and retried; `stop()` writes what is
 * left.
 */
export class ChargeWriter {
  private queue: ChargeEntry[] = [];
  private scheduled: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly charges: ChargeRepository,
    private readonly logger: Logger,
    private readonly opts: { maxDelayMs: number; maxBatch: number; retryMs: number } = {
      maxDelayMs: 10,
      maxBatch: 1000,
      retryMs: 1000,
    },
    /** Told of each batch once it is committed (a cluster node owes these charges to Redis). */
    private readonly onWritten?: (batch: ChargeEntry[], written: WrittenCharges) => void,
  ) {}

  push(entry: ChargeEntry): void {
    this.queue.push(entry);
    if (this.queue.length >= this.opts.maxBatch && !this.writing) void this.flush();
    else this.scheduled ??= setTimeout(() => void this.flush(), this.opts.maxDelayMs);
  }

  async flush(): Promise<void> {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    while (this.writing) await this.writing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const write = this.onWritten
      ? this.charges.applyWithRevs(batch).then((w) => this.onWritten!(batch, w))
      : this.charges.apply(batch);
    this.writing = write.then(
      () => undefined,
      (err: unknown) => {
        this.queue = batch.concat(this.queue);
        this.logger.error({ err, charges: batch.length }, 'charges not written yet; will retry');
        this.scheduled ??= setTimeout(() => void this.flush(), this.opts.retryMs);
      },
    );
    await this.writing;
    this.writing = undefined;
  }

  async stop(): Promise<void> {
    await this.flush();
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
  }
}
