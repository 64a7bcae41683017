import type { ConfigStateRepository } from '../db/repositories/config-state.repository.js';
import { lagBehind, type ConfigSync } from './config-sync.js';
import { routingDigest } from './routing-index.js';
import type { NodeHeartbeat } from './node-heartbeat.js';

export type NodeRole = 'single' | 'master' | 'slave';

/** What the status needs of the cluster part of a node. */
export interface ClusterView {
  readonly isRedisReady: boolean;
  readonly isSubscribed: boolean;
  nodes(): Promise<NodeHeartbeat[]>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What `GET /api/status` and `GET /api/cluster` report. */
export class NodeStatus {
  private shuttingDown = false;

  constructor(
    readonly role: NodeRole,
    readonly nodeId: string,
    readonly startedAt: number,
    private readonly sync: ConfigSync,
    private readonly state: ConfigStateRepository,
    private readonly cluster?: ClusterView,
    /** Every channel's id and version in the database: the digest each node's routing should equal. */
    private readonly channelVersions?: () => Promise<[number, number][]>,
  ) {}

  /** The database's routing digest; null when it cannot be read. */
  private async dbDigest(): Promise<string | null> {
    if (!this.channelVersions) return null;
    return routingDigest(await this.channelVersions());
  }

  /** Ready once the first full sync is done, and until shutdown starts (DEGRADED still serves). */
  get ready(): boolean {
    const state = this.sync.status().state;
    return !this.shuttingDown && (state === 'LIVE' || state === 'DEGRADED');
  }

  /** The newest config changes of the cluster (from the database's log), newest first. */
  async recentChanges(limit: number) {
    return (await this.state.recentChanges(limit)).map((c) => ({
      version: c.version,
      kind: c.kind,
      entity_id: c.entityId,
      op: c.op,
      at: new Date(c.at).toISOString(),
    }));
  }

  /** When this node applied recent versions (the sync benchmark reads them). */
  appliesAfter(version: number) {
    return this.sync.appliesAfter(version);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** This node: role, state, versions, lag behind the database. */
  async report() {
    const s = this.sync.status();
    // The database's version is what the node is measured against; unreachable shows as null.
    const db = await this.state.read().catch(() => undefined);
    return {
      role: this.role,
      state: s.state,
      node_id: this.nodeId,
      epoch: s.epoch,
      version: s.appliedVersion,
      db_version: db?.version ?? null,
      lag_versions: lagBehind(db, s.epoch, s.appliedVersion),
      last_sync_at: iso(s.lastSyncAt),
      started_at: iso(this.startedAt),
      pubsub_connected: this.cluster ? this.cluster.isSubscribed : null,
      redis_connected: this.cluster ? this.cluster.isRedisReady : null,
      routing_channels: this.sync.routing.size,
      routing_digest: this.sync.routing.digest(),
      pid: process.pid,
    };
  }

  /** Every live node's heartbeat with its lag behind the database (this node alone when single). */
  async clusterReport() {
    const [db, dbDigest] = await Promise.all([
      this.state.read().catch(() => undefined),
      this.dbDigest().catch(() => null),
    ]);
    if (!this.cluster) {
      const self = await this.report();
      return {
        db_version: db?.version ?? null,
        epoch: db?.epoch ?? null,
        db_routing_digest: dbDigest,
        nodes: [{ ...self, routing_matches_db: dbDigest === null ? null : self.routing_digest === dbDigest }],
      };
    }
    const nodes = await this.cluster.nodes();
    return {
      db_version: db?.version ?? null,
      epoch: db?.epoch ?? null,
      db_routing_digest: dbDigest,
      nodes: nodes.map((n) => ({
        node_id: n.nodeId,
        role: n.role,
        state: n.state,
        epoch: n.epoch,
        version: n.appliedVersion,
        lag_versions: lagBehind(db, n.epoch, n.appliedVersion),
        last_sync_at: iso(n.lastSyncAt),
        pubsub_connected: n.pubsub,
        heartbeat_at: iso(n.beatAt),
        started_at: iso(n.startedAt),
        host: n.host,
        port: n.port,
        pid: n.pid,
        redis_connected: n.redis,
        routing_channels: n.routingChannels,
        routing_digest: n.routingDigest,
        routing_matches_db:
          dbDigest === null || n.routingDigest === null ? null : n.routingDigest === dbDigest,
      })),
    };
  }
}
