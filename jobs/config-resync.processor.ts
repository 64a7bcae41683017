import type { Logger } from 'pino';
import type { L2Store } from '../lib/cfg/l2-store.js';
import type { NodeHeartbeats } from '../lib/cfg/node-heartbeat.js';
import { lagBehind } from '../lib/cfg/config-sync.js';
import type { ChannelRepository } from '../lib/db/repositories/channel.repository.js';
import type { ConfigStateRepository } from '../lib/db/repositories/config-state.repository.js';
import type { L2Kind } from '../lib/cfg/l2-store.js';
import type { TokenRecord, TokenRepository } from '../lib/db/repositories/token.repository.js';
import type { UserRecord, UserRepository } from '../lib/db/repositories/user.repository.js';

/** What one run did: the return value an operator reads in bull-board. */
export interface ConfigResyncResult {
  epoch: string;
  dbVersion: number;
  redisVersionBefore: number | null;
  raisedVersion: boolean;
  healed: Record<L2Kind, number>;
  nodes: { nodeId: string; role: string; state: string; appliedVersion: number; lag: number | null }[];
  lagging: string[];
  trimmed: number;
  ms: number;
}

export interface ConfigResyncDeps {
  state: ConfigStateRepository;
  channels: ChannelRepository;
  tokens: TokenRepository;
  users: UserRepository;
  l2: L2Store;
  heartbeats: NodeHeartbeats;
  keepChanges: number;
  logger: Logger;
}

const BATCH = 500;

/**
 * The timed fallback resync, once per cluster per interval (docs/cluster.md, step 3 of "how a change reaches every node"): reads the
 * database's epoch and version, heals L2 entries that are missing or older than the database,
 * raises `cfg:version`, publishes a beacon that makes every lagging node catch up, records each
 * node's lag, and trims `config_changes`.
 */
export class ConfigResyncProcessor {
  constructor(private readonly deps: ConfigResyncDeps) {}

  async run(): Promise<ConfigResyncResult> {
    const started = Date.now();
    const { state, l2 } = this.deps;
    const db = await state.read();
    const before = await l2.probe();
    const healed = {
      channel: await this.healChannels(db.version),
      token: await this.healTokens(db.version),
      user: await this.healUsers(db.version),
    };
    const raisedVersion = await l2.raiseVersion(db);
    await l2.publish({ epoch: db.epoch, v: db.version, kind: 'beacon' });
    const nodes = (await this.deps.heartbeats.list()).map((n) => ({
      nodeId: n.nodeId,
      role: n.role,
      state: n.state,
      appliedVersion: n.appliedVersion,
      lag: lagBehind(db, n.epoch, n.appliedVersion),
    }));
    const lagging = nodes.filter((n) => n.lag === null || n.lag > 0).map((n) => n.nodeId);
    const trimmed = await state.trimChanges(db.version - this.deps.keepChanges);
    const result: ConfigResyncResult = {
      epoch: db.epoch,
      dbVersion: db.version,
      redisVersionBefore: before && before.epoch === db.epoch ? before.version : null,
      raisedVersion,
      healed,
      nodes,
      lagging,
      trimmed,
      ms: Date.now() - started,
    };
    const healedAny = healed.channel + healed.token + healed.user > 0;
    this.deps.logger[healedAny || raisedVersion ? 'info' : 'debug'](result, 'config-resync done');
    return result;
  }

  /** Every channel of the database must be in L2 at its version; channels gone get a tombstone. */
  private async healChannels(dbVersion: number): Promise<number> {
    // The cached ids are read before the rows: an entry cached earlier whose row is then missing
    // was deleted. Read the other way round, a channel created in between would be missing from
    // the rows, found in L2 and tombstoned — and every node would then drop it from its index.
    const cachedIds = await this.deps.l2.cachedIds('channel');
    const rows = await this.deps.channels.findAll();
    let healed = 0;
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      const cached = await this.deps.l2.versions(
        'channel',
        batch.map((r) => String(r.id)),
      );
      for (let j = 0; j < batch.length; j++) {
        if (cached[j] === undefined || cached[j]! < batch[j]!.version) {
          if (await this.deps.l2.put('channel', batch[j]!)) healed++;
        }
      }
    }
    const live = new Set(rows.map((r) => String(r.id)));
    healed += await this.tombstoneMissing(
      'channel',
      cachedIds.filter((id) => !live.has(id)),
      dbVersion,
    );
    return healed;
  }

  /** Tokens are cached on demand: only the cached ones are compared with the database. */
  private healTokens(dbVersion: number): Promise<number> {
    return this.healCached('token', dbVersion, async (hashes) =>
      (await this.deps.tokens.findByHashes(hashes)).map((t) => [t.keyHash, t] as const),
    );
  }

  private healUsers(dbVersion: number): Promise<number> {
    return this.healCached('user', dbVersion, async (ids) =>
      (await this.deps.users.findByIds(ids.map(Number))).map((u) => [String(u.id), u] as const),
    );
  }

  /** Compares every cached entry of a kind with its database row: newer rows are put, gone ones tombstoned. */
  private async healCached<K extends 'token' | 'user'>(
    kind: K,
    dbVersion: number,
    rowsOf: (ids: string[]) => Promise<(readonly [string, K extends 'token' ? TokenRecord : UserRecord])[]>,
  ): Promise<number> {
    const ids = await this.deps.l2.cachedIds(kind);
    let healed = 0;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const rows = new Map(await rowsOf(batch));
      const cached = await this.deps.l2.versions(kind, batch);
      const gone: string[] = [];
      for (let j = 0; j < batch.length; j++) {
        const row = rows.get(batch[j]!);
        if (!row) gone.push(batch[j]!);
        else if (cached[j] === undefined || cached[j]! < row.version) {
          healed += (await this.deps.l2.put(kind, row as never)) ? 1 : 0;
        }
      }
      healed += await this.tombstoneMissing(kind, gone, dbVersion);
    }
    return healed;
  }

  /** Entities cached in L2 but gone from the database; an existing tombstone is left as it is. */
  private async tombstoneMissing(kind: L2Kind, ids: string[], dbVersion: number): Promise<number> {
    let n = 0;
    for (const id of ids) {
      const hit = await this.deps.l2.get(kind, id);
      if (hit && hit.record !== null) {
        await this.deps.l2.tombstone(kind, id, Math.max(dbVersion, hit.version + 1));
        n++;
      }
    }
    return n;
  }
}
