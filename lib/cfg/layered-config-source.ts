import type { Logger } from 'pino';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import type { L2Kind } from './l2-store.js';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';
import type { ConfigSource, VersionProbe } from './config-sync.js';
import type { DbConfigSource } from './db-config-source.js';
import type { IdentitySource } from './identity-cache.js';
import type { L2Store } from './l2-store.js';

/**
 * Cluster reads: one entity through L2 (Redis) first, then the database, filling L2 with what
 * the database said (version-guarded, so a fill never overwrites newer data). Redis errors are
 * not errors here: the database answers. Snapshots and the change log always come from the
 * database.
 */
export class LayeredConfigSource implements ConfigSource, IdentitySource {
  constructor(
    private readonly l2: L2Store,
    private readonly db: DbConfigSource,
    private readonly logger: Logger,
  ) {}

  changesAfter(version: number, limit: number) {
    return this.db.changesAfter(version, limit);
  }

  snapshot() {
    return this.db.snapshot();
  }

  // Prices and groups are a few rows changed rarely: they skip L2 and are read from the database.
  price(model: string) {
    return this.db.price(model);
  }

  group(name: string) {
    return this.db.group(name);
  }

  async channel(id: number, minVersion: number): Promise<ChannelRecord | undefined> {
    return this.read('channel', String(id), minVersion, () => this.db.channel(id));
  }

  async tokenByHash(keyHash: string, fresh = false): Promise<TokenRecord | undefined> {
    return fresh
      ? this.fill('token', await this.db.tokenByHash(keyHash))
      : this.read('token', keyHash, 0, () => this.db.tokenByHash(keyHash));
  }

  async userById(id: number, fresh = false): Promise<UserRecord | undefined> {
    return fresh
      ? this.fill('user', await this.db.userById(id))
      : this.read('user', String(id), 0, () => this.db.userById(id));
  }

  private async read<K extends L2Kind, R extends ChannelRecord | TokenRecord | UserRecord>(
    kind: K,
    id: string,
    minVersion: number,
    fromDb: () => Promise<R | undefined>,
  ): Promise<R | undefined> {
    try {
      const hit = await this.l2.get(kind, id);
      if (hit && hit.version >= minVersion) return (hit.record as R | null) ?? undefined;
    } catch (err) {
      this.logger.debug(
        { err: { message: (err as Error).message }, kind },
        'L2 read failed; reading the database',
      );
    }
    return this.fill(kind, await fromDb());
  }

  /** Puts what the database said into L2 (version-guarded, in the background) and hands it on. */
  private fill<R extends ChannelRecord | TokenRecord | UserRecord>(
    kind: L2Kind,
    row: R | undefined,
  ): R | undefined {
    if (row) {
      this.l2.put(kind, row as never).catch(() => {
        // A failed fill only costs the next reader a database read.
      });
    }
    return row;
  }
}

/** The cluster's version probe: Redis `cfg:version`/`cfg:epoch`. */
export class RedisVersionProbe implements VersionProbe {
  constructor(private readonly l2: L2Store) {}

  read() {
    return this.l2.probe();
  }
}
