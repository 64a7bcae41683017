import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { UsageFlushProcessor } from '../../jobs/usage-flush.processor.js';
import { BalanceReconciler } from '../../lib/billing/balance-reconciler.js';
import type { Admission, Settlement } from '../../lib/billing/billing-store.js';
import { ChargeWriter } from '../../lib/billing/charge-writer.js';
import { FailoverBillingStore } from '../../lib/billing/failover-billing.store.js';
import { LocalBillingStore } from '../../lib/billing/local-billing.store.js';
import { RedisBillingStore } from '../../lib/billing/redis-billing.store.js';
import { SettlementJournal } from '../../lib/billing/settlement-journal.js';
import type { NodeHeartbeats } from '../../lib/cfg/node-heartbeat.js';
import { createDb, migrateLatest, type Db } from '../../lib/db/knex.js';
import { ChargeRepository } from '../../lib/db/repositories/charge.repository.js';
import { TokenRepository } from '../../lib/db/repositories/token.repository.js';
import { UsageLogRepository } from '../../lib/db/repositories/usage-log.repository.js';
import { UserRepository } from '../../lib/db/repositories/user.repository.js';
import { Metrics } from '../../lib/obs/metrics.js';
import { createRedis } from '../../lib/redis/redis-client.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { usageRow } from '../helpers/fixtures.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-redis.js';
import { waitFor } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

/**
 * One cluster node's billing, wired as billing-wiring.ts wires it, on MariaDB and a Redis of the
 * test's own that it kills, restarts empty and pauses: the money must stay exact.
 */
describe('billing under Redis faults (MariaDB + a private Redis)', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let db: Db;
  let srv: PrivateRedis;
  let client: Redis;
  let store: RedisBillingStore;
  let failover: FailoverBillingStore;
  let writer: ChargeWriter;
  let journal: SettlementJournal;
  let job: UsageFlushProcessor;
  let metrics: Metrics;
  /** Set to make the node see Redis as away without losing it (a network cut). */
  let cut = false;
  let nextId = 100;
  const prefix = 'syfault';

  before(async () => {
    database = await createTestDatabase('mysql');
    db = createDb({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
    await migrateLatest(db);
    srv = await startPrivateRedis();
    // The node's own command connection: fails fast, 1 s command timeout.
    client = createRedis(srv.url, { prefix, nodeId: 'n', role: 'command', logger: silent });
    client.on('error', () => {});
    await waitFor(() => client.status === 'ready', 5000, 'redis ready');
    const tokens = new TokenRepository(db);
    const users = new UserRepository(db);
    const usage = new UsageLogRepository(db);
    const charges = new ChargeRepository(db, usage, tokens, users);
    metrics = new Metrics({ defaultMetrics: false });
    store = new RedisBillingStore(client, prefix, 'n/1', (who, id) =>
      (who === 'token' ? tokens : users).quotaOf(id),
    );
    writer = new ChargeWriter(charges, silent, undefined, (batch, written) =>
      failover.charged(batch, written),
    );
    journal = new SettlementJournal({
      inDatabase: (ids) => usage.existing(db, ids),
      inRedis: (ids) => store.knows(ids),
      rewrite: (e) => writer.push(e),
      logger: silent,
    });
    failover = new FailoverBillingStore(
      store,
      new LocalBillingStore(
        async (who, id) => (await (who === 'token' ? tokens : users).quotaOf(id))?.quota,
        (e) => writer.push(e),
        2000,
      ),
      () => !cut && client.status === 'ready',
      silent,
      journal,
    );
    job = new UsageFlushProcessor({
      store,
      charges,
      heartbeats: { list: async () => [{ nodeId: 'n', pid: 1 }] } as unknown as NodeHeartbeats,
      holdTtlMs: 60_000,
      reconciler: new BalanceReconciler(store, db, tokens, users, usage, metrics, silent),
      metrics,
      logger: silent,
    });
  });
  after(async () => {
    client?.disconnect();
    await srv?.close();
    await db?.destroy();
    await database?.drop();
  });
  afterEach(async () => {
    cut = false;
    if (!srv.running()) await srv.start();
    await ready();
    await failover.repay();
  });

  /** A user and a token of their own, each with `quota`. */
  async function account(quota: number) {
    const id = ++nextId;
    await db('users').insert({
      id,
      username: `u${id}`,
      role: 'user',
      quota,
      version: 1,
      created_at: 0,
      updated_at: 0,
    });
    await db('tokens').insert({
      id,
      name: `t${id}`,
      user_id: id,
      key_hash: `h${id}`,
      key_prefix: 'sk',
      quota,
      version: 1,
      created_at: 0,
      updated_at: 0,
    });
    return id;
  }
  let seq = 0;
  const admission = (id: number, reserve = 10): Admission => ({
    chargeId: `f${++seq}-${id}`,
    tokenId: id,
    userId: id,
    reserve,
    limiters: [],
  });
  const settlement = (a: Admission, quota: number): Settlement => ({
    chargeId: a.chargeId,
    tokenId: a.tokenId,
    userId: a.userId,
    quota,
    tokensDelta: 0,
    tokenWindows: [],
    usage: usageRow({ chargeId: a.chargeId, userId: a.userId, tokenId: a.tokenId, quota }),
  });
  /** The database's books and the live balance of a token (its user has the same numbers). */
  async function books(id: number) {
    const t = await db('tokens').where({ id }).first('quota', 'used_quota');
    const u = await db('users').where({ id }).first('quota', 'used_quota');
    const rows = await db('usage_logs').where({ token_id: id, type: 'consume' }).select('quota');
    const [left, held, pend] = (
      await client.hmget(store.keys.balance('token', id), 'left', 'held', 'pend')
    ).map((v) => Number(v ?? 0));
    const [uleft] = await client.hmget(store.keys.balance('user', id), 'left');
    return {
      quota: Number(t.quota),
      used: Number(t.used_quota),
      userQuota: Number(u.quota),
      userUsed: Number(u.used_quota),
      logged: rows.reduce((s: number, r: { quota: number }) => s + Number(r.quota), 0),
      rows: rows.length,
      live: left! + held! + pend!,
      userLive: Number(uleft ?? 0),
      left: left!,
      held: held!,
    };
  }
  const ready = () =>
    waitFor(
      async () => client.status === 'ready' && (await client.ping().catch(() => '')) === 'PONG',
      10_000,
      'redis back',
    );

  it('a request admitted on Redis and settled after Redis died lowers the stored quota (not only used_quota)', async () => {
    const id = await account(1000);
    const a = admission(id, 10);
    expect((await failover.admit(a)).kind).to.equal('ok');
    await srv.kill();
    await failover.settle(settlement(a, 7));
    await writer.flush();
    await srv.start();
    await ready();
    const b = await books(id);
    expect([b.quota, b.used, b.userQuota, b.userUsed]).to.deep.equal([993, 7, 993, 7]);
  });

  it('Redis restarted empty: the charges made on the database meanwhile are not charged again to the reloaded balance', async () => {
    const id = await account(1000);
    const first = admission(id, 10);
    await failover.admit(first);
    await failover.settle(settlement(first, 5));
    await job.run();
    await srv.kill();
    for (let i = 0; i < 2; i++) {
      const a = admission(id, 10);
      expect((await failover.admit(a)).kind).to.equal('ok'); // on the database's balance
      await failover.settle(settlement(a, 4));
    }
    await writer.flush();
    expect(failover.owed).to.equal(2); // the two local charges
    await srv.start();
    await ready();
    // The first request after the restart loads the balance from the database (987: both
    // charges in it), then the repay runs: it must not take them a second time.
    const next = admission(id, 10);
    expect((await failover.admit(next)).kind).to.equal('ok');
    await failover.repay();
    expect(failover.owed).to.equal(0);
    const b = await books(id);
    expect(b.quota).to.equal(987);
    expect([b.left, b.held, b.live]).to.deep.equal([977, 10, 987]);
    await failover.settle(settlement(next, 6));
    const r = await job.run();
    expect(r.repaired).to.deep.equal([]);
    const after = await books(id);
    expect([after.quota, after.used, after.logged, after.rows, after.live]).to.deep.equal([
      981, 19, 19, 4, 981,
    ]);
  });

  for (const loadFirst of [false, true]) {
    it(`Redis killed before usage-flush wrote its stream: the node's journal writes the lost charges once (balance reloaded ${loadFirst ? 'before' : 'after'} they are written)`, async () => {
      const id = await account(1000);
      const settled = [];
      for (let i = 0; i < 3; i++) {
        const a = admission(id, 10);
        expect((await failover.admit(a)).kind).to.equal('ok');
        await failover.settle(settlement(a, 5));
        settled.push(a.chargeId);
      }
      // Not flushed yet: the stream (and every balance) dies with Redis.
      await srv.kill();
      await srv.start();
      await ready();
      const next = admission(id, 10);
      if (loadFirst) expect((await failover.admit(next)).kind).to.equal('ok'); // loads 1000: misses the 15
      const check = await journal.check(Date.now() + 10_000);
      expect(check.rewritten).to.be.at.least(3);
      await writer.flush();
      if (!loadFirst) expect((await failover.admit(next)).kind).to.equal('ok'); // loads 985: holds the 15
      await failover.repay();
      const b = await books(id);
      expect([b.quota, b.used, b.logged, b.rows]).to.deep.equal([985, 15, 15, 3]);
      expect([b.live, b.held]).to.deep.equal([985, 10]);
      await failover.settle(settlement(next, 5));
      expect((await job.run()).repaired).to.deep.equal([]);
      const after = await books(id);
      expect([after.quota, after.rows, after.live, after.held]).to.deep.equal([980, 4, 980, 0]);
      // Confirmed in the database: the journal forgets them, and writes nothing again.
      expect((await journal.check(Date.now() + 10_000)).rewritten).to.equal(0);
    });
  }

  it('Redis cut but kept: the charges made on the database are paid to the live balance once, however often the repay is sent', async () => {
    const id = await account(1000);
    const first = admission(id, 10);
    await failover.admit(first);
    await failover.settle(settlement(first, 5));
    await job.run();
    cut = true;
    const local = [];
    for (let i = 0; i < 2; i++) {
      const a = admission(id, 10);
      await failover.admit(a);
      await failover.settle(settlement(a, 4));
      local.push(a);
    }
    await writer.flush();
    cut = false;
    await failover.repay();
    let b = await books(id);
    expect([b.quota, b.live, b.userLive]).to.deep.equal([987, 987, 987]);
    // The same repays again (a reply lost on the way): nothing changes.
    const rev = Number((await db('tokens').where({ id }).first('quota_rev')).quota_rev);
    await store.repay(
      local.map((a) => ({
        kind: 'charge' as const,
        chargeId: a.chargeId,
        tokenId: id,
        userId: id,
        quota: 4,
        tokenRev: rev,
        userRev: rev,
      })),
    );
    b = await books(id);
    expect([b.live, b.userLive]).to.deep.equal([987, 987]);
    expect((await job.run()).repaired).to.deep.equal([]);
  });

  it('CLIENT PAUSE longer than the command timeout: the admit and settle that ran late leave no hold and charge once', async () => {
    const id = await account(1000);
    const first = admission(id, 10);
    expect((await failover.admit(first)).kind).to.equal('ok');
    await srv.pause(4000);
    const paused = Date.now();
    // Both time out after 1 s and go to the database; Redis runs both when the pause ends.
    await failover.settle(settlement(first, 7));
    const second = admission(id, 10);
    expect((await failover.admit(second)).kind).to.equal('ok');
    await failover.settle(settlement(second, 3));
    await writer.flush();
    expect(Date.now() - paused).to.be.below(4000); // all of it answered during the pause
    await ready();
    expect(Date.now() - paused).to.be.at.least(3900);
    await failover.repay();
    expect(failover.owed).to.equal(0);
    const r = await job.run();
    expect(r.repaired).to.deep.equal([]);
    expect(await client.zcard(store.keys.holds)).to.equal(0);
    expect(await client.hlen(store.keys.holdInfo)).to.equal(0);
    const b = await books(id);
    expect([b.quota, b.used, b.logged, b.rows]).to.deep.equal([990, 10, 10, 2]);
    expect([b.left, b.held, b.live, b.userLive]).to.deep.equal([990, 0, 990, 990]);
    // Each script again, late (a retried call): nothing moves.
    await store.settle(settlement(first, 7));
    expect((await store.admit(second)).kind).to.equal('quota'); // closed: takes nothing
    expect((await job.run()).flushed).to.equal(0);
    const again = await books(id);
    expect([again.left, again.held, again.quota]).to.deep.equal([990, 0, 990]);
  });

  it('reconciliation: a live balance made to drift on purpose is repaired, logged, and counted', async () => {
    const id = await account(500);
    const a = admission(id, 10);
    await failover.admit(a);
    await failover.settle(settlement(a, 10));
    await job.run();
    await client.hincrby(store.keys.balance('token', id), 'left', 37);
    await client.hincrby(store.keys.balance('user', id), 'left', -12);
    const r = await job.run();
    expect(r.repaired).to.deep.include.members([
      { who: 'token', id, drift: -37, leftBefore: 527 },
      { who: 'user', id, drift: 12, leftBefore: 478 },
    ]);
    const b = await books(id);
    expect([b.quota, b.left, b.userLive]).to.deep.equal([490, 490, 490]);
    const logged = await db('usage_logs')
      .where({ type: 'reconcile', user_id: id })
      .orderBy('quota')
      .select('quota', 'token_id', 'note');
    expect(logged.map((l: { quota: number }) => Number(l.quota))).to.deep.equal([-37, 12]);
    expect(logged[0].note).to.match(/live token balance lowered by 37 \(left was 527\)/);
    const text = await metrics.registry.metrics();
    expect(text).to.match(/billing_drift_repaired_units_total\{who="token",sign="down"\} 37/);
    expect(text).to.match(/billing_drift_repaired_units_total\{who="user",sign="up"\} 12/);
    // In line now: the next run repairs nothing.
    expect((await job.run()).repaired).to.deep.equal([]);
  });
});
