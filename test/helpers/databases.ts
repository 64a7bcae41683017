import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';

/** The MariaDB/MySQL server tests use (root, empty password unless TEST_MYSQL_URL says otherwise). */
export const MYSQL_ROOT_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/** A database of this test run's own, dropped by `drop()`. */
export interface TestDatabase {
  /** DATABASE_URL for the gateway; undefined for SQLite. */
  databaseUrl: string | undefined;
  /** The SQLite file, for SQLite. */
  sqliteFile: string | undefined;
  /** A DATA_DIR of its own (secret key file, SQLite). */
  dataDir: string;
  drop(): Promise<void>;
}

export type Driver = 'sqlite' | 'mysql';

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export async function createTestDatabase(driver: Driver): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-test-'));
  if (driver === 'sqlite') {
    return {
      databaseUrl: undefined,
      sqliteFile: path.join(dataDir, 'test.sqlite'),
      dataDir,
      async drop() {
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const name = uniqueName('sy_test');
  const conn = await mysql.createConnection(MYSQL_ROOT_URL);
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await conn.end();
  return {
    databaseUrl: `${MYSQL_ROOT_URL}/${name}`,
    sqliteFile: undefined,
    dataDir,
    async drop() {
      const c = await mysql.createConnection(MYSQL_ROOT_URL);
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
