import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConfigResyncProcessor } from './config-resync.processor.js';
import type { UsageFlushProcessor } from './usage-flush.processor.js';
import type { ChannelTestProcessor } from './channel-test.processor.js';

export const CONFIG_QUEUE = 'config';
export const CONFIG_RESYNC = 'config-resync';
/** Billing's once-per-cluster work: writing settled charges to the database. */
export const BILLING_QUEUE = 'billing';
export const USAGE_FLUSH = 'usage-flush';
/** Jobs only the master may run: the config writes other nodes ask for. */
export const MASTER_QUEUE = 'master';
export const CHANNEL_AUTO_DISABLE = 'channel-auto-disable';
/** The scheduled channel tests (on the master queue: re-enabling is a config write). */
export const CHANNEL_TEST = 'channel-test';

export interface AutoDisableJob {
  channelId: number;
  reason: string;
}

/**
 * The cluster's work on BullMQ. The `config` queue holds the job scheduler `config-resync`
 * (every `resyncEveryMs`) with a worker on every node (a job goes to one of them); the
 * `billing` queue holds `usage-flush` (every `usageFlushEveryMs`) the same way. The `master`
 * queue, worked only on the master, carries config writes a replica needs done (auto-disabling
 * a channel) and the job scheduler `channel-test` (every `channelTestMs`, none when 0).
 * Schedulers live in Redis, so they are re-upserted at start and after every Redis reconnect: a
 * Redis reset erases them.
 */
export class JobRunner {
  readonly queue: Queue;
  readonly masterQueue: Queue;
  readonly billingQueue: Queue;
  private readonly workers: Worker[] = [];

  constructor(
    private readonly connections: { queue: Redis; newWorker: () => Redis },
    private readonly prefix: string,
    private readonly role: 'master' | 'slave',
    private readonly every: { resyncMs: number; usageFlushMs: number; channelTestMs: number },
    private readonly handlers: {
      resync: ConfigResyncProcessor;
      usageFlush: UsageFlushProcessor;
      autoDisable: (job: AutoDisableJob) => Promise<boolean>;
      channelTests: ChannelTestProcessor;
    },
    private readonly logger: Logger,
  ) {
    const opts = { connection: connections.queue, prefix: `${prefix}:bull` };
    this.queue = new Queue(CONFIG_QUEUE, opts);
    this.masterQueue = new Queue(MASTER_QUEUE, opts);
    this.billingQueue = new Queue(BILLING_QUEUE, opts);
    for (const q of [this.queue, this.masterQueue, this.billingQueue]) {
      q.on('error', (err) => this.logger.debug({ err: { message: err.message } }, 'queue error'));
    }
  }

  async start(): Promise<void> {
    this.workers.push(this.worker(CONFIG_QUEUE), this.worker(BILLING_QUEUE));
    if (this.role === 'master') this.workers.push(this.worker(MASTER_QUEUE));
    await this.upsertSchedulers();
  }

  /** (Re)creates the job schedulers; safe to call any number of times. */
  async upsertSchedulers(): Promise<void> {
    await this.queue.upsertJobScheduler(
      CONFIG_RESYNC,
      { every: this.every.resyncMs },
      { name: CONFIG_RESYNC, opts: { removeOnComplete: 50, removeOnFail: 50 } },
    );
    await this.billingQueue.upsertJobScheduler(
      USAGE_FLUSH,
      { every: this.every.usageFlushMs },
      { name: USAGE_FLUSH, opts: { removeOnComplete: 50, removeOnFail: 50 } },
    );
    if (this.role !== 'master') return;
    if (this.every.channelTestMs > 0) {
      await this.masterQueue.upsertJobScheduler(
        CHANNEL_TEST,
        { every: this.every.channelTestMs },
        { name: CHANNEL_TEST, opts: { removeOnComplete: 50, removeOnFail: 50 } },
      );
    } else {
      await this.masterQueue.removeJobScheduler(CHANNEL_TEST);
    }
  }

  /** Asks the master to auto-disable a channel; one pending job per channel. */
  async requestAutoDisable(job: AutoDisableJob): Promise<void> {
    await this.masterQueue.add(CHANNEL_AUTO_DISABLE, job, {
      jobId: `auto-disable-${job.channelId}`,
      removeOnComplete: true,
      removeOnFail: 100,
      attempts: 5,
      backoff: { type: 'exponential', delay: 500 },
    });
  }

  private worker(queue: string): Worker {
    const worker = new Worker(queue, (job: Job) => this.process(job), {
      connection: this.connections.newWorker(),
      prefix: `${this.prefix}:bull`,
      concurrency: 1,
    });
    worker.on('error', (err) => this.logger.debug({ err: { message: err.message } }, 'worker error'));
    worker.on('failed', (job, err) =>
      this.logger.warn({ job: job?.name, err: { message: err.message } }, 'job failed'),
    );
    return worker;
  }

  private async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case CONFIG_RESYNC:
        return this.handlers.resync.run();
      case USAGE_FLUSH:
        return this.handlers.usageFlush.run();
      case CHANNEL_TEST:
        return this.handlers.channelTests.run();
      case CHANNEL_AUTO_DISABLE:
        return { disabled: await this.handlers.autoDisable(job.data as AutoDisableJob) };
      default:
        throw new Error(`unknown job ${job.name}`);
    }
  }

  /** Closes the workers (bounded: a stuck job does not hold shutdown) and the queues. */
  async stop(timeoutMs = 5000): Promise<void> {
    const closing = Promise.all([
      ...this.workers.map((w) => w.close()),
      this.queue.close(),
      this.masterQueue.close(),
      this.billingQueue.close(),
    ]);
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}
