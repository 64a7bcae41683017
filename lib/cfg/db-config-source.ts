import type { Knex } from 'knex';
import { dialectOf, type Db } from '../db/knex.js';
import type { ChannelRepository } from '../db/repositories/channel.repository.js';
import type { ConfigStateRepository } from '../db/repositories/config-state.repository.js';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import type { ConfigSource, VersionProbe } from './config-sync.js';
import type { IdentitySource } from './identity-cache.js';

/** Config read straight from the database: the whole source on a single node, the last tier in a cluster. */
export class DbConfigSource implements ConfigSource, IdentitySource, VersionProbe {
  constructor(
    private readonly db: Db,
    private readonly state: ConfigStateRepository,
    private readonly channels: ChannelRepository,
    private readonly tokens: TokenRepository,
    private readonly users: UserRepository,
  ) {}

  /** As a probe: the database's own state. */
  read() {
    return this.state.read();
  }

  changesAfter(version: number, limit: number) {
    return this.state.changesAfter(version, limit);
  }

  /** State and channels from one REPEATABLE READ transaction: the channels are exactly those of that version. */
  async snapshot() {
    const options: Knex.TransactionConfig =
      dialectOf(this.db) === 'mysql' ? { isolationLevel: 'repeatable read' } : {};
    return this.db.transaction(async (trx) => {
      const state = await this.state.read(trx);
      const channels = await this.channels.findAll(trx);
      return { state, channels };
    }, options);
  }

  channel(id: number) {
    return this.channels.findById(id);
  }

  tokenByHash(keyHash: string) {
    return this.tokens.findByHash(keyHash);
  }

  userById(id: number) {
    return this.users.findById(id);
  }
}
