import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations/index.js';

export type Db = Knex;
export type Trx = Knex.Transaction;
export type Dialect = 'mysql' | 'sqlite';

/** Which database a knex instance talks to. */
export function dialectOf(db: Knex): Dialect {
  const client = String(db.client.config.client);
  return client === 'mysql2' || client === 'mysql' ? 'mysql' : 'sqlite';
}

/** The knex settings for a DATABASE_URL (MySQL/MariaDB) or, without one, a SQLite file under dataDir. */
export function knexConfig(opts: {
  databaseUrl?: string;
  dataDir: string;
  sqliteFile?: string;
}): Knex.Config {
  if (opts.databaseUrl) {
    return {
      client: 'mysql2',
      connection: {
        uri: opts.databaseUrl.replace(/^mysql2:/, 'mysql:'),
        supportBigNumbers: true,
        bigNumberStrings: false,
        dateStrings: true,
        charset: 'utf8mb4',
        connectTimeout: 3000,
      } as Knex.MySql2ConnectionConfig,
      // Fail fast when the database is away: an admin write answers 503 instead of hanging.
      acquireConnectionTimeout: 5000,
      pool: { min: 0, max: 20 },
      migrations: { migrationSource, tableName: 'knex_migrations' },
    };
  }
  const file = opts.sqliteFile ?? path.join(opts.dataDir, 'switchyard.sqlite');
  return {
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        // WAL keeps readers off the writer's back; NORMAL sync is durable across a process crash.
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        // Checkpoints (and their fsync) run on a worker thread: see SqliteCheckpointer.
        conn.pragma('wal_autocheckpoint = 0');
        done(null, conn);
      },
    },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  };
}

/** Opens the database (creating the SQLite folder if needed). */
export function createDb(opts: { databaseUrl?: string; dataDir: string; sqliteFile?: string }): Knex {
  if (!opts.databaseUrl && opts.sqliteFile !== ':memory:') {
    fs.mkdirSync(opts.sqliteFile ? path.dirname(opts.sqliteFile) : opts.dataDir, { recursive: true });
  }
  return knexFactory(knexConfig(opts));
}

/** The SQLite file of a knex instance; undefined for MySQL or an in-memory database. */
export function sqliteFileOf(db: Knex): string | undefined {
  if (dialectOf(db) !== 'sqlite') return undefined;
  const file = (db.client.config.connection as { filename?: string }).filename;
  return file && file !== ':memory:' ? file : undefined;
}

/** Applies every pending migration; safe to run on each start. */
export async function migrateLatest(db: Knex): Promise<void> {
  await db.migrate.latest();
}
