import type { Logger } from 'pino';
import { DbConfigSource } from '../cfg/db-config-source.js';
import { VersionedWriter } from '../cfg/versioned-writer.js';
import type { Config } from '../config/config.js';
import { createDb, migrateLatest, sqliteFileOf, type Db } from '../db/knex.js';
import { AccessTokenRepository } from '../db/repositories/access-token.repository.js';
import { ChannelTestRepository } from '../db/repositories/channel-test.repository.js';
import { ChannelRepository } from '../db/repositories/channel.repository.js';
import { ConfigStateRepository } from '../db/repositories/config-state.repository.js';
import { GroupRepository } from '../db/repositories/group.repository.js';
import { PriceRepository } from '../db/repositories/price.repository.js';
import { PriceSeedRepository } from '../db/repositories/price-seed.repository.js';
import { SessionRepository } from '../db/repositories/session.repository.js';
import { TokenRepository } from '../db/repositories/token.repository.js';
import { UsageLogRepository } from '../db/repositories/usage-log.repository.js';
import { UsageRollupRepository } from '../db/repositories/usage-rollup.repository.js';
import { UserRepository } from '../db/repositories/user.repository.js';
import { SqliteCheckpointer } from '../db/sqlite-checkpointer.js';
import { ConfigError } from '../errors/config.error.js';
import { loadOrCreateSecretKey } from '../security/secret-key-file.js';
import { SecretBox } from '../security/secret-box.js';
import type { Component } from './lifecycle.js';

/** Every repository, one per table. */
export interface Repositories {
  state: ConfigStateRepository;
  channels: ChannelRepository;
  channelTests: ChannelTestRepository;
  tokens: TokenRepository;
  users: UserRepository;
  accessTokens: AccessTokenRepository;
  prices: PriceRepository;
  /** Which models of the default price catalogue were seeded once already. */
  priceSeeds: PriceSeedRepository;
  groups: GroupRepository;
  usage: UsageLogRepository;
  /** How far back the usage roll-up is complete, and its backfill. */
  usageRollup: UsageRollupRepository;
  sessions: SessionRepository;
}

export interface StorageParts {
  db: Db;
  repos: Repositories;
  secrets: SecretBox;
  /** Decrypts a stored channel key; a `ConfigError` naming SECRET_KEY when it cannot. */
  decrypt: (keyEnc: string) => string;
  /** The one way config is written: a versioned transaction. */
  writer: VersionedWriter;
  /** Config read straight from the database (the last tier). */
  dbSource: DbConfigSource;
  /** The database: migrated at start (with the SQLite checkpointer, when SQLite), destroyed last at stop. */
  component: Component;
}

/** The database, its repositories, the secret box and the versioned writer. */
export function wireStorage(config: Config, logger: Logger, sqliteFile?: string): StorageParts {
  const db = createDb({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    sqliteFile,
    limits: config.dbLimits,
  });
  const file = sqliteFileOf(db);
  const checkpointer = file
    ? new SqliteCheckpointer(file, 1000, (err) =>
        logger.error({ err: { message: err.message } }, 'the SQLite checkpoint worker stopped'),
      )
    : undefined;
  const secrets = new SecretBox(config.secretKey ?? singleNodeSecret(config, logger));
  const repos: Repositories = {
    state: new ConfigStateRepository(db),
    channels: new ChannelRepository(db),
    channelTests: new ChannelTestRepository(db),
    tokens: new TokenRepository(db),
    users: new UserRepository(db),
    accessTokens: new AccessTokenRepository(db),
    prices: new PriceRepository(db),
    priceSeeds: new PriceSeedRepository(db),
    groups: new GroupRepository(db),
    usage: new UsageLogRepository(db),
    usageRollup: new UsageRollupRepository(db),
    sessions: new SessionRepository(db),
  };
  const dbSource = new DbConfigSource(
    db,
    repos.state,
    repos.channels,
    repos.tokens,
    repos.users,
    repos.prices,
    repos.groups,
  );
  return {
    db,
    repos,
    secrets,
    decrypt: (enc) => {
      try {
        return secrets.decrypt(enc);
      } catch {
        throw new ConfigError(
          'SECRET_KEY does not decrypt the stored channel keys: start with the SECRET_KEY they were written with',
        );
      }
    },
    writer: new VersionedWriter(db, repos.state, logger.child({ component: 'cfg-writer' })),
    dbSource,
    component: {
      name: 'database',
      async start() {
        await migrateLatest(db);
        checkpointer?.start();
      },
      async stop() {
        await db.destroy();
        await checkpointer?.stop();
      },
    },
  };
}

/** A single node's SECRET_KEY: generated once into the data directory. */
function singleNodeSecret(config: Config, logger: Logger): string {
  if (config.databaseUrl) {
    // Every node must decrypt what any node wrote: a generated per-node key cannot work.
    throw new ConfigError('Set SECRET_KEY (16+ characters, the same on every node) when DATABASE_URL is set');
  }
  const { secret, created, file } = loadOrCreateSecretKey(config.dataDir);
  if (created)
    logger.warn({ file }, 'SECRET_KEY is not set: generated one; keep this file with the database');
  return secret;
}
