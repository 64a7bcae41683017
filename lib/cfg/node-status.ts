import type { ConfigStateRepository } from '../db/repositories/config-state.repository.js';
import type { ConfigSync } from './config-sync.js';

export type NodeRole = 'single' | 'master' | 'slave';

/** What `GET /api/status` reports about this node. */
export class NodeStatus {
  private shuttingDown = false;

  constructor(
    readonly role: NodeRole,
    readonly nodeId: string,
    readonly startedAt: number,
    private readonly sync: ConfigSync,
    private readonly state: ConfigStateRepository,
  ) {}

  /** Ready once the first full sync is done, and until shutdown starts. */
  get ready(): boolean {
    return !this.shuttingDown && this.sync.status().state === 'LIVE';
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

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
      lag_versions: db ? Math.max(0, db.version - s.appliedVersion) : null,
      last_sync_at: s.lastSyncAt === null ? null : new Date(s.lastSyncAt).toISOString(),
      started_at: new Date(this.startedAt).toISOString(),
      pid: process.pid,
    };
  }
}
