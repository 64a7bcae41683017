import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { createDb, type Db } from '../../lib/db/knex.js';
import { isConnectionError } from '../../lib/db/db-errors.js';
import { DatabaseTimeoutError } from '../../lib/errors/database-timeout.error.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * MariaDB behind a TCP proxy the test makes hang (connections open, nothing answering): a write
 * must fail within its limit and stay rolled back when the database answers again.
 */
describe('database time limits (MariaDB through a proxy that hangs)', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let proxy: TcpProxy;
  let db: Db;
  let direct: mysql.Connection;
  let proxied: string;

  before(async () => {
    database = await createTestDatabase('mysql');
    const url = new URL(database.databaseUrl!);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 3306) });
    url.port = String(proxy.port);
    proxied = url.href;
    direct = await mysql.createConnection(database.databaseUrl!);
    await direct.query('CREATE TABLE probe (id INT PRIMARY KEY)');
  });
  after(async () => {
    await direct?.end();
    await proxy?.close();
    await database?.drop();
  });
  // A pool of its own per test: a connection dropped in one test never meets the next.
  beforeEach(() => {
    db = createDb({
      databaseUrl: proxied,
      dataDir: database.dataDir,
      limits: { statementTimeoutMs: 1000, transactionTimeoutMs: 2000 },
    });
  });
  afterEach(async () => {
    proxy.unhang();
    await db.destroy();
  });

  const rows = async () =>
    ((await direct.query('SELECT id FROM probe ORDER BY id')) as any)[0].map((r: any) => r.id);

  it('a transaction whose database hangs mid-way fails within the statement limit and is never committed once it answers again', async () => {
    const started = Date.now();
    const attempt = db.transaction(async (trx) => {
      await trx('probe').insert({ id: 1 });
      proxy.hang();
      await trx('probe').insert({ id: 2 });
    });
    const err = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    // Whichever comes first: the node gives up (DB_STATEMENT_TIMEOUT), or MariaDB ends the
    // transaction left idle (idle_transaction_timeout) and the connection is lost. Both answer 503.
    if (err instanceof DatabaseTimeoutError) {
      expect(err.status).to.equal(503);
      expect(err.message).to.not.match(/insert|probe/i); // no SQL for a client to see
    } else expect(isConnectionError(err), String(err)).to.equal(true);
    expect(took).to.be.within(1900, 3500); // the limit (1 s) plus the second the server gets
    await new Promise((r) => setTimeout(r, 500));
    proxy.unhang();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await rows()).to.deep.equal([]);
    // The pool replaced the dropped connection: the next write works.
    await db('probe').insert({ id: 3 });
    expect(await rows()).to.deep.equal([3]);
    await direct.query('DELETE FROM probe');
  });

  it('a transaction that passes its own limit is rolled back, not committed late', async () => {
    const err = await db
      .transaction(async (trx) => {
        await trx('probe').insert({ id: 4 });
        await new Promise((r) => setTimeout(r, 2300));
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(DatabaseTimeoutError);
    expect(String((err as Error).message)).to.match(/DB_TRANSACTION_TIMEOUT/);
    expect(await rows()).to.deep.equal([]);
  });

  it('the server stops a statement that runs past the limit (a lock wait), well before the client gives up', async () => {
    await direct.query('INSERT INTO probe (id) VALUES (9)');
    await direct.query('START TRANSACTION');
    await direct.query('SELECT id FROM probe WHERE id = 9 FOR UPDATE');
    const started = Date.now();
    const err = await db('probe')
      .where({ id: 9 })
      .update({ id: 10 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const took = Date.now() - started;
    await direct.query('ROLLBACK');
    expect(isConnectionError(err), String(err)).to.equal(true);
    expect(took).to.be.below(1900);
    await direct.query('DELETE FROM probe');
  });
});
