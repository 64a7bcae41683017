import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConfigState } from '../db/repositories/config-state.repository.js';
import { ConfigError } from '../errors/config.error.js';
import type { Metrics } from '../obs/metrics.js';
import type { ConfigSync } from './config-sync.js';
import type { InvalidationSubscriber } from './invalidation-subscriber.js';
import type { L2Store } from './l2-store.js';
import type { NodeHeartbeat, NodeHeartbeats } from './node-heartbeat.js';

const REDIS_START_WAIT_MS = 15_000;

/** The once-per-cluster jobs as this node sees them. */
export interface ClusterJobs {
  start(): Promise<void>;
  upsertSchedulers(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A node's life in the cluster: start-up checks, the subscription, heartbeats, the jobs, and the
 * Redis connection state. While the command connection is down the node is DEGRADED (serves
 * from L1, polls the database); when it is back the node resyncs whole, re-upserts the job
 * schedulers and beats at once.
 */
export class ClusterNode {
  private redisReady = true;
  private stopped = false;

  constructor(
    private readonly self: { nodeId: string; role: 'master' | 'slave' },
    private readonly redis: Redis,
    private readonly l2: L2Store,
    private readonly sync: ConfigSync,
    private readonly subscriber: InvalidationSubscriber,
    readonly heartbeats: NodeHeartbeats,
    private readonly jobs: ClusterJobs,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    metrics.redisUp.set(1);
    redis.on('close', () => this.setRedisReady(false));
    redis.on('ready', () => this.setRedisReady(true));
  }

  get isRedisReady(): boolean {
    return this.redisReady;
  }

  get isSubscribed(): boolean {
    return this.subscriber.isConnected;
  }

  /**
   * Refuses a start that cannot work: a second live master, or a replica whose database is not
   * the one the cluster on this Redis prefix runs on (different epochs).
   */
  async preflight(db: ConfigState): Promise<void> {
    await this.waitForRedis(REDIS_START_WAIT_MS);
    const nodes = await this.heartbeats.list();
    const master = nodes.find((n) => n.role === 'master' && n.nodeId !== this.self.nodeId);
    if (this.self.role === 'master' && master) {
      throw new ConfigError(
        `Another master (NODE_ID=${master.nodeId}, pid ${master.pid} on ${master.host}) is alive on this REDIS_URL and REDIS_PREFIX: start this node with NODE_TYPE=slave, or stop the other master first`,
      );
    }
    const redisState = await this.l2.probe();
    if (
      this.self.role === 'slave' &&
      redisState &&
      redisState.epoch !== db.epoch &&
      master?.epoch === redisState.epoch
    ) {
      throw new ConfigError(
        `This node's database (DATABASE_URL) has config epoch ${db.epoch}, but the cluster on this REDIS_URL/REDIS_PREFIX (master ${master.nodeId}) runs epoch ${redisState.epoch}: point DATABASE_URL at the cluster's database, or use another REDIS_PREFIX`,
      );
    }
  }

  /** Waits (bounded) for the command connection, so a node started just before Redis still starts. */
  private async waitForRedis(ms: number): Promise<void> {
    if (this.redis.status === 'ready') return;
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!ready)
      throw new ConfigError(
        `Redis at REDIS_URL did not answer within ${ms / 1000} s: start Redis, or check REDIS_URL`,
      );
  }

  /** Subscribes before the first snapshot, so no change can fall between the two. */
  async subscribe(): Promise<void> {
    await this.subscriber.start();
  }

  /** After the first full sync: heartbeats, jobs. */
  async start(port: number): Promise<void> {
    this.heartbeats.start(port);
    await this.jobs.start();
  }

  /** Called by the sync loop when Redis has no `cfg:version`: it was flushed or restarted empty. */
  async redisLostItsState(db: ConfigState): Promise<void> {
    this.logger.warn(
      { version: db.version },
      'Redis has no config version (flushed or restarted): restoring it',
    );
    await this.l2.raiseVersion(db).catch(() => {});
    await this.jobs
      .upsertSchedulers()
      .catch((err: unknown) =>
        this.logger.warn({ err: { message: (err as Error).message } }, 'could not re-upsert job schedulers'),
      );
  }

  async nodes(): Promise<NodeHeartbeat[]> {
    return this.heartbeats.list();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.jobs.stop();
    await this.heartbeats.stop();
    await this.subscriber.stop();
  }

  private setRedisReady(ready: boolean): void {
    if (ready === this.redisReady || this.stopped) return;
    this.redisReady = ready;
    this.metrics.redisUp.set(ready ? 1 : 0);
    this.sync.setDegraded(!ready);
    if (!ready) {
      this.logger.warn('Redis is unreachable: DEGRADED (serving from memory, polling the database)');
      return;
    }
    this.logger.info('Redis is back: resyncing, re-upserting job schedulers');
    this.sync
      .resync('redis_back')
      .catch((err: unknown) =>
        this.logger.warn({ err: { message: (err as Error).message } }, 'resync after Redis came back failed'),
      );
    this.jobs
      .upsertSchedulers()
      .catch((err: unknown) =>
        this.logger.warn({ err: { message: (err as Error).message } }, 'could not re-upsert job schedulers'),
      );
    this.heartbeats.beat().catch(() => {});
  }
}
