import type { Redis } from 'ioredis';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import type { ConfigKind, ConfigState } from '../db/repositories/config-state.repository.js';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';

/** A config message on `{prefix}:cfg:invalidate`: one change, or a beacon carrying the current version. */
export interface InvalidationMessage {
  epoch: string;
  v: number;
  kind: ConfigKind | 'beacon';
  id?: string;
  op?: 'upsert' | 'delete';
  node?: string;
  at?: number;
}

type Records = { channel: ChannelRecord; token: TokenRecord; user: UserRecord };

/** The kinds L2 caches (prices and groups are few and read from the database). */
export type L2Kind = keyof Records;

/**
 * Writes `data` at `version` unless the key already holds the same or a newer version.
 * An empty `data` is a tombstone: the entity is deleted at that version (a fill that read the
 * row before the delete then cannot bring it back).
 */
const SET_IF_NEWER = `
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** Raises `cfg:version` (and sets `cfg:epoch`) when the given version is newer or the epoch differs. */
const RAISE_VERSION = `
local e = redis.call('GET', KEYS[1])
local v = redis.call('GET', KEYS[2])
if e ~= ARGV[1] or not v or tonumber(v) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0`;

type ScriptedRedis = Redis & {
  sySetIfNewer(key: string, version: number, data: string, ttlMs: number): Promise<number>;
  syRaiseVersion(epochKey: string, versionKey: string, epoch: string, version: number): Promise<number>;
};

/**
 * L2: config entities in Redis hashes (`version`, `data`), readable with redis-cli, written only
 * through version compare-and-set, each with a maximum TTL. Upstream keys stay encrypted in
 * `data` (the channel record holds `keyEnc`, never the key).
 */
export class L2Store {
  private readonly redis: ScriptedRedis;
  readonly keys: {
    epoch: string;
    version: string;
    invalidate: string;
    entity: (kind: L2Kind, id: string) => string;
    node: (nodeId: string) => string;
    nodes: string;
  };

  constructor(
    redis: Redis,
    readonly prefix: string,
    private readonly maxTtlMs: number,
  ) {
    if (!('sySetIfNewer' in redis)) {
      redis.defineCommand('sySetIfNewer', { numberOfKeys: 1, lua: SET_IF_NEWER });
      redis.defineCommand('syRaiseVersion', { numberOfKeys: 2, lua: RAISE_VERSION });
    }
    this.redis = redis as ScriptedRedis;
    this.keys = {
      epoch: `${prefix}:cfg:epoch`,
      version: `${prefix}:cfg:version`,
      invalidate: `${prefix}:cfg:invalidate`,
      entity: (kind, id) => `${prefix}:cfg:${kind}:${id}`,
      node: (nodeId) => `${prefix}:node:${nodeId}`,
      nodes: `${prefix}:nodes`,
    };
  }

  /** The cache key of a record: channels and users by id, tokens by key hash. */
  static idOf<K extends L2Kind>(kind: K, record: Records[K]): string {
    return kind === 'token' ? (record as TokenRecord).keyHash : String((record as { id: number }).id);
  }

  /**
   * Reads one entity. `undefined`: not cached (ask the database); `null`: deleted at `version`.
   */
  async get<K extends L2Kind>(
    kind: K,
    id: string,
  ): Promise<{ version: number; record: Records[K] | null } | undefined> {
    const [version, data] = await this.redis.hmget(this.keys.entity(kind, id), 'version', 'data');
    if (version == null || data == null) return undefined;
    return { version: Number(version), record: data === '' ? null : (JSON.parse(data) as Records[K]) };
  }

  /** Stores a record unless a newer version is there; true when written. */
  async put<K extends L2Kind>(kind: K, record: Records[K]): Promise<boolean> {
    const key = this.keys.entity(kind, L2Store.idOf(kind, record));
    return (await this.redis.sySetIfNewer(key, record.version, JSON.stringify(record), this.maxTtlMs)) === 1;
  }

  /** Marks an entity deleted at `version`. */
  async tombstone(kind: L2Kind, id: string, version: number): Promise<void> {
    await this.redis.sySetIfNewer(this.keys.entity(kind, id), version, '', this.maxTtlMs);
  }

  /** The cached version of each id (undefined when not cached), in one round trip. */
  async versions(kind: L2Kind, ids: string[]): Promise<(number | undefined)[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.keys.entity(kind, id), 'version');
    const results = (await pipe.exec()) ?? [];
    return results.map(([err, v]) => (err || v == null ? undefined : Number(v)));
  }

  /** Every cached id of a kind (SCAN, never KEYS). */
  async cachedIds(kind: L2Kind): Promise<string[]> {
    const prefix = this.keys.entity(kind, '');
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) ids.push(key.slice(prefix.length));
    } while (cursor !== '0');
    return ids;
  }

  /** `cfg:epoch` and `cfg:version`, or undefined when Redis has none (it was flushed or restarted). */
  async probe(): Promise<ConfigState | undefined> {
    const [epoch, version] = await this.redis.mget(this.keys.epoch, this.keys.version);
    if (epoch == null || version == null) return undefined;
    return { epoch, version: Number(version) };
  }

  async raiseVersion(state: ConfigState): Promise<boolean> {
    return (
      (await this.redis.syRaiseVersion(this.keys.epoch, this.keys.version, state.epoch, state.version)) === 1
    );
  }

  async publish(message: InvalidationMessage): Promise<void> {
    await this.redis.publish(this.keys.invalidate, JSON.stringify(message));
  }
}
