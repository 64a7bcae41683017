import type { Knex } from 'knex';
import { dialectOf, type Db } from '../db/knex.js';
import type { ChannelRepository } from '../db/repositories/channel.repository.js';
import type { ConfigStateRepository } from '../db/repositories/config-state.repository.js';
import type { GroupRepository } from '../db/repositories/group.repository.js';
import type { PriceRepository } from '../db/repositories/price.repository.js';
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
    private readonly prices: PriceRepository,
    private readonly groups: GroupRepository,
  ) {}

  /** As a probe: the database's own state. */
  read() {
    return this.state.read();
  }

  changesAfter(version: number, limit: number) {
    return this.state.changesAfter(version, limit);
  }

  /** State, channels, prices and groups from one REPEATABLE READ transaction: exactly those of that version. */
  async snapshot() {
    const options: Knex.TransactionConfig =
      dialectOf(this.db) === 'mysql' ? { isolationLevel: 'repeatable read' } : {};
    return this.db.transaction(async (trx) => {
      const state = await this.state.read(trx);
      const channels = await this.channels.findAll(trx);
      const prices = await this.prices.findAll(trx);
      const groups = await this.groups.findAll(trx);
      return { state, channels, prices, groups };
    }, options);
  }

  channel(id: number) {
    return this.channels.findById(id);
  }

  price(model: string) {
    return this.prices.find(model);
  }

  group(name: string) {
    return this.groups.find(name);
  }

  tokenByHash(keyHash: string) {
    return this.tokens.findByHash(keyHash);
  }

  userById(id: number) {
    return this.users.findById(id);
  }
}
