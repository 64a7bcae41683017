import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { UsageFlushProcessor } from '../../jobs/usage-flush.processor.js';
import type { ChargeWriter } from '../../lib/billing/charge-writer.js';
import { pino } from 'pino';
import { wireBilling } from '../../lib/billing/billing-wiring.js';
import type { FailoverBillingStore } from '../../lib/billing/failover-billing.store.js';
import { PriceBook } from '../../lib/billing/price-book.js';
import type { RedisBillingStore } from '../../lib/billing/redis-billing.store.js';
import type { SettlementJournal } from '../../lib/billing/settlement-journal.js';
import type { Db } from '../../lib/db/knex.js';
import type { Metrics } from '../../lib/obs/metrics.js';
import { startBillingNode, type BillingNode } from '../helpers/billing-node.js';
import type { PrivateRedis } from '../helpers/private-redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * One cluster node's billing, wired as billing-wiring.ts wires it, on MariaDB and a Redis of the
 * test's own that it kills, restarts empty and pauses: the money must stay exact.
 */
describe('billing under Redis faults (MariaDB + a private Redis)', function () {
  this.timeout(60_000);
  let node: BillingNode;
  let db: Db;
  let srv: PrivateRedis;
  let client: Redis;
  let store: RedisBillingStore;
  let failover: FailoverBillingStore;
  let writer: ChargeWriter;
  let journal: SettlementJournal;
  let job: UsageFlushProcessor;
  let metrics: Metrics;

  before(async () => {
    node = await startBillingNode('syfault');
    ({ db, srv, client, store, failover, writer, journal, job, metrics } = node);
  });
  after(async () => {
    await node?.close();
  });
  afterEach(async () => {
    node.cut = false;
    if (!srv.running()) await srv.start();
    await ready();
    await failover.repay();
  });

  const account = (quota: number) => node.account(quota);
  const admission = (id: number, reserve?: number) => node.admission(id, reserve);
  const settlement = (...a: Parameters<BillingNode['settlement']>) => node.settlement(...a);
  const books = (id: number) => node.books(id);
  const ready = () => node.ready();

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

  it('a charge the journal writes again while Redis answers is paid to the live balance at once, not at the next repay tick', async () => {
    const id = await account(1000);
    for (let i = 0; i < 3; i++) {
      const a = admission(id, 10);
      expect((await failover.admit(a)).kind).to.equal('ok');
      await failover.settle(settlement(a, 5));
    }
    await srv.kill();
    await srv.start();
    await ready();
    const next = admission(id, 10);
    expect((await failover.admit(next)).kind).to.equal('ok'); // loads 1000: misses the 15
    expect((await journal.check(Date.now() + 10_000)).rewritten).to.be.at.least(3);
    await writer.flush();
    // Nothing calls repay() here (a node's timer does, every second): writing them owes them, and pays them.
    await waitFor(() => failover.owed === 0, 500, 'the re-sent charges to be paid');
    const b = await books(id);
    expect([b.quota, b.live, b.held]).to.deep.equal([985, 985, 10]);
    await failover.settle(settlement(next, 5));
    expect((await job.run()).repaired).to.deep.equal([]);
  });

  it('a Redis that answers but refuses every script is asked to repay at most once a second, not at every written batch', async () => {
    const id = await account(1000);
    const repay = store.repay.bind(store);
    let asked = 0;
    store.repay = (ops) => {
      asked++;
      return repay(ops);
    };
    // Connected and answering, but every script call is refused at once (NOPERM).
    await client.call('ACL', 'SETUSER', 'default', '-@scripting');
    try {
      // Ten requests, each taken to the database (Redis refuses the admit) and written in a batch of its own.
      for (let i = 0; i < 10; i++) {
        const a = admission(id, 10);
        expect((await failover.admit(a)).kind).to.equal('ok');
        await failover.settle(settlement(a, 5));
        await writer.flush();
      }
      expect(failover.owed).to.be.at.least(10);
      expect(asked).to.be.at.most(2);
    } finally {
      await client.call('ACL', 'SETUSER', 'default', '+@all');
      store.repay = repay;
    }
    await failover.repay();
    expect(failover.owed).to.equal(0);
    const b = await books(id);
    expect([b.quota, b.used]).to.deep.equal([950, 50]);
  });

  it('a node pays what it charged on the database while its Redis connection was down as soon as the connection is back, not at the next repay tick', async () => {
    const parts = wireBilling({
      db,
      tokens: node.tokens,
      users: node.users,
      usage: node.usage,
      prices: () => new PriceBook(),
      options: { enabled: true, allowUnpriced: true, reserveCompletionTokens: 0 },
      metrics,
      logger: pino({ level: 'silent' }),
      redis: { client, prefix: 'sywire', holder: 'w/1', ready: () => client.status === 'ready' },
    });
    const wired = parts.store as FailoverBillingStore;
    try {
      const id = await account(1000);
      await srv.kill();
      const a = admission(id, 10);
      expect((await wired.admit(a)).kind).to.equal('ok'); // on the database
      await wired.settle(settlement(a, 4));
      await waitFor(() => wired.owed === 1, 1000, 'the charge written to the database');
      parts.start(); // its repay timer ticks in 1 s
      const started = Date.now();
      await srv.start();
      await waitFor(() => wired.owed === 0, 1000, 'the charge to be paid');
      expect(Date.now() - started, 'paid before the first tick').to.be.below(1000);
    } finally {
      await parts.stop();
    }
  });

  it('Redis cut but kept: the charges made on the database are paid to the live balance once, however often the repay is sent', async () => {
    const id = await account(1000);
    const first = admission(id, 10);
    await failover.admit(first);
    await failover.settle(settlement(first, 5));
    await job.run();
    node.cut = true;
    const local = [];
    for (let i = 0; i < 2; i++) {
      const a = admission(id, 10);
      await failover.admit(a);
      await failover.settle(settlement(a, 4));
      local.push(a);
    }
    await writer.flush();
    node.cut = false;
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

  it('a settle left unanswered when Redis was SIGKILLed is not sent again to the Redis started empty (the node took it to the database)', async () => {
    const id = await account(1000);
    const a = admission(id, 10);
    expect((await failover.admit(a)).kind).to.equal('ok');
    await srv.pause(5000);
    // Times out after 1 s: the node cancels it on Redis and charges the database instead.
    await failover.settle(settlement(a, 7));
    await srv.kill();
    await srv.start();
    await ready();
    // Sent again, it would run first on the empty Redis: the charge in `pend`, its id in `done`.
    await new Promise((r) => setTimeout(r, 200));
    expect(await client.zscore(store.keys.done, a.chargeId)).to.equal(null);
    expect(await client.hgetall(store.keys.balance('token', id))).to.deep.equal({});
    expect(await client.xlen(store.keys.usage)).to.equal(0);
    await writer.flush();
    await failover.repay();
    expect((await failover.admit(admission(id, 10))).kind).to.equal('ok');
    const b = await books(id);
    expect([b.quota, b.used, b.rows, b.live, b.held]).to.deep.equal([993, 7, 1, 993, 10]);
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
