import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** better-sqlite3 as this module resolves it: an eval'd worker would resolve from the working directory. */
const sqliteModule = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Runs SQLite's WAL checkpoints on a worker thread with a connection of its own. A checkpoint
 * fsyncs the database file; done by the connection that commits (SQLite's default, every 1000
 * pages) it stalled the event loop for ~10 ms at a time under billing load, so the gateway's
 * connection has `wal_autocheckpoint = 0` and this worker checkpoints every `everyMs` instead
 * (PASSIVE: it never blocks a writer).
 */
export class SqliteCheckpointer {
  private worker: Worker | undefined;

  constructor(
    private readonly file: string,
    private readonly everyMs = 1000,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  start(): void {
    // Plain JS evaluated by the worker: the same code runs from the sources and from dist/.
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const Database = require(workerData.sqliteModule);
      const db = new Database(workerData.file);
      db.pragma('busy_timeout = 5000');
      setInterval(() => {
        try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: the next round */ }
      }, workerData.everyMs);
    `;
    this.worker = new Worker(code, {
      eval: true,
      workerData: { file: this.file, everyMs: this.everyMs, sqliteModule },
    });
    // A worker that dies costs checkpoints (the WAL grows until the next start), never the gateway.
    this.worker.on('error', (err) => this.onError(err));
    this.worker.unref();
  }

  /** Stops the worker. A checkpoint it is in finishes first (a native call is not interrupted); the WAL left over is checkpointed by the next start. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
