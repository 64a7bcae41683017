import os from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { lagBehind, type ConfigSync } from './config-sync.js';
import type { L2Store } from './l2-store.js';

/** One node's heartbeat as stored in `{prefix}:node:{id}`. */
export interface NodeHeartbeat {
  nodeId: string;
  role: string;
  state: string;
  appliedVersion: number;
  epoch: string;
  lastSyncAt: number | null;
  lag: number;
  pubsub: boolean;
  pid: number;
  host: string;
  port: number;
  startedAt: number;
  beatAt: number;
  /** The node's Redis command connection was ready when it wrote this beat. */
  redis: boolean;
  /** The node's routing index: channel count and digest (null from a node of an older release). */
  routingChannels: number | null;
  routingDigest: string | null;
}

/**
 * Writes this node's heartbeat every `everyMs`: a hash `{prefix}:node:{id}` that expires after
 * three missed beats, and the node's score in the sorted set `{prefix}:nodes`. Also reads the
 * other nodes' heartbeats for `/api/cluster`, the resync job and the start-up checks.
 */
export class NodeHeartbeats {
  private timer: NodeJS.Timeout | undefined;
  private port = 0;
  /** The routing digest of the last beat, recomputed only when the applied version moved. */
  private digest: { version: number; epoch: string; value: string; size: number } | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly l2: L2Store,
    private readonly self: { nodeId: string; role: string; startedAt: number },
    private readonly sync: ConfigSync,
    private readonly pubsubConnected: () => boolean,
    private readonly everyMs: number,
    private readonly logger: Logger,
  ) {}

  start(port: number): void {
    this.port = port;
    const beat = () => {
      this.beat().catch((err: unknown) =>
        this.logger.debug({ err: { message: (err as Error).message } }, 'heartbeat not written'),
      );
    };
    beat();
    this.timer = setInterval(beat, this.everyMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    const s = this.sync.status();
    const known = await this.l2.probe().catch(() => undefined);
    const lag = lagBehind(known, s.epoch, s.appliedVersion) ?? 0;
    const now = Date.now();
    const key = this.l2.keys.node(this.self.nodeId);
    if (this.digest?.version !== s.appliedVersion || this.digest.epoch !== s.epoch) {
      const routing = this.sync.routing;
      this.digest = {
        version: s.appliedVersion,
        epoch: s.epoch,
        value: routing.digest(),
        size: routing.size,
      };
    }
    await this.redis
      .multi()
      .hset(key, {
        role: this.self.role,
        state: s.state,
        appliedVersion: s.appliedVersion,
        epoch: s.epoch,
        lastSyncAt: s.lastSyncAt ?? '',
        lag,
        pubsub: this.pubsubConnected() ? 1 : 0,
        pid: process.pid,
        host: os.hostname(),
        port: this.port,
        startedAt: this.self.startedAt,
        beatAt: now,
        redis: this.redis.status === 'ready' ? 1 : 0,
        routingChannels: this.digest.size,
        routingDigest: this.digest.value,
      })
      .pexpire(key, this.everyMs * 3)
      .zadd(this.l2.keys.nodes, now, this.self.nodeId)
      .exec();
  }

  /** Every node whose heartbeat has not expired, freshest first; stale members of the set are dropped. */
  async list(): Promise<NodeHeartbeat[]> {
    const stale = Date.now() - this.everyMs * 3;
    await this.redis.zremrangebyscore(this.l2.keys.nodes, '-inf', stale);
    const ids = await this.redis.zrevrange(this.l2.keys.nodes, 0, -1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.l2.keys.node(id));
    const rows = (await pipe.exec()) ?? [];
    const out: NodeHeartbeat[] = [];
    rows.forEach(([err, h], i) => {
      const r = h as Record<string, string> | null;
      if (err || !r || !r.beatAt) return;
      out.push({
        nodeId: ids[i]!,
        role: r.role ?? '',
        state: r.state ?? '',
        appliedVersion: Number(r.appliedVersion ?? 0),
        epoch: r.epoch ?? '',
        lastSyncAt: r.lastSyncAt ? Number(r.lastSyncAt) : null,
        lag: Number(r.lag ?? 0),
        pubsub: r.pubsub === '1',
        pid: Number(r.pid ?? 0),
        host: r.host ?? '',
        port: Number(r.port ?? 0),
        startedAt: Number(r.startedAt ?? 0),
        beatAt: Number(r.beatAt),
        redis: r.redis === '1',
        routingChannels: r.routingChannels ? Number(r.routingChannels) : null,
        routingDigest: r.routingDigest || null,
      });
    });
    return out;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.redis
      .multi()
      .del(this.l2.keys.node(this.self.nodeId))
      .zrem(this.l2.keys.nodes, this.self.nodeId)
      .exec()
      .catch(() => {});
  }
}
