import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { DatabaseTimeoutError } from '../errors/database-timeout.error.js';
import { migrationSource } from './migrations/index.js';

export type Db = Knex;
export type Trx = Knex.Transaction;
export type Dialect = 'mysql' | 'sqlite';

/** Which database a knex instance talks to. */
export function dialectOf(db: Knex): Dialect {
  const client = String(db.client.config.client);
  return client === 'mysql2' || client === 'mysql' ? 'mysql' : 'sqlite';
}

/** How long MySQL/MariaDB may take: per statement, and per transaction from its start to its COMMIT. */
export interface DbLimits {
  statementTimeoutMs: number;
  transactionTimeoutMs: number;
}

/** DB_STATEMENT_TIMEOUT and DB_TRANSACTION_TIMEOUT's defaults. */
export const DEFAULT_DB_LIMITS: DbLimits = { statementTimeoutMs: 10_000, transactionTimeoutMs: 15_000 };

interface DbOptions {
  databaseUrl?: string;
  dataDir: string;
  sqliteFile?: string;
  limits?: DbLimits;
}

/** The knex settings for a DATABASE_URL (MySQL/MariaDB) or, without one, a SQLite file under dataDir. */
export function knexConfig(opts: DbOptions): Knex.Config {
  if (opts.databaseUrl) {
    const limits = opts.limits ?? DEFAULT_DB_LIMITS;
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
      // Fail fast when the database is away: an admin write answers 503 instead of hanging. It
      // also bounds waiting for a pooled connection while all of them hang on a statement.
      acquireConnectionTimeout: 5000,
      pool: {
        min: 0,
        max: 20,
        afterCreate(conn: MysqlConnection, done: (err: Error | null, conn: unknown) => void) {
          limitSession(conn, limits).then(
            () => done(null, conn),
            (err: Error) => done(err, conn),
          );
        },
      },
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

/** Opens the database (creating the SQLite folder if needed); on MySQL with its time limits. */
export function createDb(opts: DbOptions): Knex {
  if (!opts.databaseUrl && opts.sqliteFile !== ':memory:') {
    fs.mkdirSync(opts.sqliteFile ? path.dirname(opts.sqliteFile) : opts.dataDir, { recursive: true });
  }
  const db = knexFactory(knexConfig(opts));
  if (opts.databaseUrl) withTransactionDeadline(db, (opts.limits ?? DEFAULT_DB_LIMITS).transactionTimeoutMs);
  return db;
}

/** The code of the error a statement without an answer fails with (see db-errors.ts). */
export const STATEMENT_TIMEOUT = 'DB_STATEMENT_TIMEOUT';

/** The raw mysql2 connection, as the pool hands it to afterCreate. */
interface MysqlConnection {
  query(...args: unknown[]): unknown;
  destroy(): void;
  stream?: { destroy(): void };
  __knex__disposed?: unknown;
}

/**
 * Sets a new connection's limits. On the server: MariaDB's `max_statement_time` and
 * `idle_transaction_timeout` (a transaction whose client went silent is rolled back, so a
 * statement held up on the network cannot commit it later) or MySQL's `max_execution_time`
 * (SELECTs only), and the lock wait. In the client: a statement without an answer after the
 * limit (plus a second for the server's own) fails with DatabaseTimeoutError and its connection
 * is dropped, never reused.
 */
async function limitSession(conn: MysqlConnection, limits: DbLimits): Promise<void> {
  const run = (sql: string) =>
    new Promise<Record<string, unknown>[]>((resolve, reject) =>
      conn.query(sql, (err: Error | null, rows: Record<string, unknown>[]) =>
        err ? reject(err) : resolve(rows),
      ),
    );
  const [row] = await run('SELECT VERSION() AS v');
  const seconds = Math.max(1, Math.ceil(limits.statementTimeoutMs / 1000));
  const idle = Math.max(1, Math.ceil(limits.transactionTimeoutMs / 1000));
  if (/mariadb/i.test(String(row?.v))) {
    await run(
      `SET SESSION max_statement_time = ${limits.statementTimeoutMs / 1000}, SESSION idle_transaction_timeout = ${idle}, SESSION innodb_lock_wait_timeout = ${seconds}`,
    );
  } else {
    await run(
      `SET SESSION max_execution_time = ${limits.statementTimeoutMs}, SESSION innodb_lock_wait_timeout = ${seconds}`,
    );
  }
  guardStatements(conn, limits.statementTimeoutMs + 1000);
}

function guardStatements(conn: MysqlConnection, ms: number): void {
  const query = conn.query.bind(conn);
  conn.query = (...args: unknown[]) => {
    const at = args.findIndex((a) => typeof a === 'function');
    if (at < 0) return query(...args);
    const callback = args[at] as (...r: unknown[]) => void;
    let answered = false;
    const timer = setTimeout(() => {
      // Not an AppError: knex puts the SQL in front of the message; mapped where it is caught.
      const err = Object.assign(new Error(`no answer within ${ms} ms`), { code: STATEMENT_TIMEOUT });
      conn.__knex__disposed = err;
      conn.stream?.destroy();
      conn.destroy();
      finish(err);
    }, ms);
    const finish = (...r: unknown[]) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      callback(...r);
    };
    args[at] = finish;
    return query(...args);
  };
}

/**
 * Makes every `db.transaction(handler)` roll back, rather than commit, when its handler ends
 * after `ms` from its start: a write that passed its limit is not applied (its client has most
 * likely given up already).
 */
function withTransactionDeadline(db: Knex, ms: number): void {
  // A knex instance forwards `transaction` to its context object (its own property is read-only).
  const context = (db as unknown as { context: Record<string, unknown> }).context;
  const transaction = context.transaction as (this: unknown, ...args: unknown[]) => unknown;
  context.transaction = function (this: unknown, handler: unknown, config?: unknown) {
    if (typeof handler !== 'function') return transaction.call(this, handler, config);
    // Why the handler failed, rather than the ROLLBACK's own failure on a dropped connection.
    let cause: unknown;
    const run = transaction.call(
      this,
      async (trx: Knex.Transaction) => {
        const deadline = Date.now() + ms;
        try {
          const result: unknown = await (handler as (t: Knex.Transaction) => unknown)(trx);
          if (Date.now() > deadline) {
            throw new DatabaseTimeoutError(
              `The database write took longer than ${ms} ms (DB_TRANSACTION_TIMEOUT) and was rolled back: nothing changed. Retry it.`,
            );
          }
          return result;
        } catch (err) {
          cause = err;
          throw err;
        }
      },
      config,
    ) as Promise<unknown>;
    return run.catch((err: unknown) => {
      const why = cause ?? err;
      if ((why as { code?: unknown })?.code === STATEMENT_TIMEOUT) {
        throw new DatabaseTimeoutError(
          `The database did not answer in time (DB_STATEMENT_TIMEOUT): the connection was dropped and the write rolled back. Retry it; send money-moving calls with an Idempotency-Key, and the same one again.`,
        );
      }
      throw why;
    });
  };
}

/** The SQLite file of a knex instance; undefined for MySQL or an in-memory database. */
export function sqliteFileOf(db: Knex): string | undefined {
  if (dialectOf(db) !== 'sqlite') return undefined;
  const file = (db.client.config.connection as { filename?: string }).filename;
  return file && file !== ':memory:' ? file : undefined;
}

/**
 * Applies every pending migration; safe to run on each start. On MySQL through a connection of
 * its own without the statement limits (a schema change on a large table may take minutes).
 */
export async function migrateLatest(db: Knex): Promise<void> {
  if (dialectOf(db) === 'sqlite') {
    await db.migrate.latest();
    return;
  }
  const { pool: _pool, ...config } = db.client.config as Knex.Config;
  const migrator = knexFactory({ ...config, pool: { min: 0, max: 1 } });
  try {
    await migrator.migrate.latest();
  } finally {
    await migrator.destroy();
  }
}
