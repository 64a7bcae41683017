import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConfigResyncProcessor } from './config-resync.processor.js';

export const CONFIG_QUEUE = 'config';
export const CONFIG_RESYNC = 'config-resync';

/**
 * The cluster's once-per-cluster work on BullMQ: the `config` queue, its job scheduler
 * `config-resync` (every `resyncEveryMs`), and a worker on every node (a job goes to one of
 * them). Schedulers live in Redis, so they are re-upserted at start and after every Redis
 * reconnect: a Redis reset erases them.
 */
export class JobRunner {
  readonly queue: Queue;
  private worker: Worker | undefined;

  constructor(
    private readonly connections: { queue: Redis; worker: Redis },
    private readonly prefix: string,
    private readonly resyncEveryMs: number,
    private readonly resync: ConfigResyncProcessor,
    private readonly logger: Logger,
  ) {
    this.queue = new Queue(CONFIG_QUEUE, { connection: connections.queue, prefix: `${prefix}:bull` });
    this.queue.on('error', (err) => this.logger.debug({ err: { message: err.message } }, 'queue error'));
  }

  async start(): Promise<void> {
    this.worker = new Worker(CONFIG_QUEUE, (job: Job) => this.process(job), {
      connection: this.connections.worker,
      prefix: `${this.prefix}:bull`,
      concurrency: 1,
    });
    this.worker.on('error', (err) => this.logger.debug({ err: { message: err.message } }, 'worker error'));
    this.worker.on('failed', (job, err) =>
      this.logger.warn({ job: job?.name, err: { message: err.message } }, 'job failed'),
    );
    await this.upsertSchedulers();
  }

  /** (Re)creates the job schedulers; safe to call any number of times. */
  async upsertSchedulers(): Promise<void> {
    await this.queue.upsertJobScheduler(
      CONFIG_RESYNC,
      { every: this.resyncEveryMs },
      { name: CONFIG_RESYNC, opts: { removeOnComplete: 50, removeOnFail: 50 } },
    );
  }

  private async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case CONFIG_RESYNC:
        return this.resync.run();
      default:
        throw new Error(`unknown job ${job.name}`);
    }
  }

  /** Closes the worker (bounded: a stuck job does not hold shutdown) and the queue. */
  async stop(timeoutMs = 5000): Promise<void> {
    const closing = Promise.all([this.worker?.close(), this.queue.close()]);
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}
