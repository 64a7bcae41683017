import { expect } from 'chai';
import { pino } from 'pino';
import { BalanceService } from '../../lib/billing/balance.service.js';
import type { ChargeEntry } from '../../lib/billing/billing-store.js';
import { FailoverBillingStore } from '../../lib/billing/failover-billing.store.js';
import { LocalBillingStore } from '../../lib/billing/local-billing.store.js';
import { BalanceLoadRefusedError, RedisBillingStore } from '../../lib/billing/redis-billing.store.js';
import { ChargeRepository } from '../../lib/db/repositories/charge.repository.js';
import { startBillingNode, type BillingNode } from '../helpers/billing-node.js';

/**
 * A balance is loaded in two steps: a node reads the stored quota (and its `quota_rev`), then
 * the `load` script writes it to Redis. Whatever the database and Redis do between the two — a
 * usage-flush run writing and acknowledging charges, a journal re-send paid to the balances, an
 * admin's quota change — the loaded balance must equal what the database allows, so the next
 * reconciliation repairs nothing. Each test drives the racy order step by step.
 */
describe('loading a live balance while the database changes it (MariaDB + a private Redis)', function () {
  this.timeout(60_000);
  let node: BillingNode;

  /** The admin side's balance service on this node (top-ups and quota edits). */
  const balanceService = () =>
    new BalanceService(
      node.db,
      node.tokens,
      node.users,
      node.usage,
      node.failover,
      pino({ level: 'silent' }),
    );

  before(async () => {
    node = await startBillingNode('syrace');
  });
  after(async () => {
    await node?.close();
  });
  afterEach(async () => {
    if (!node.srv.running()) await node.srv.start();
    await node.ready();
    await node.failover.repay();
  });

  /**
   * A second node on the same Redis and database whose first load of a token's balance runs
   * `between` after reading the stored quota and before the load script (the user's balance,
   * loaded next, reads the database after it).
   */
  function racyNode(between: () => Promise<unknown>) {
    let first = true;
    return new RedisBillingStore(node.client, 'syrace', 'n2/1', async (who, id) => {
      const read = await node.storedQuota(who, id);
      if (who === 'token' && first) {
        first = false;
        await between();
      }
      return read;
    });
  }

  /** Admitted on Redis, which is then SIGKILLed and started empty: the settle lands on the new Redis before any load. */
  async function settledAcrossARestart(id: number, quota: number) {
    const a = node.admission(id, 10);
    expect((await node.failover.admit(a)).kind).to.equal('ok');
    await node.srv.kill();
    await node.srv.start();
    await node.ready();
    await node.failover.settle(node.settlement(a, quota));
  }

  /** The token's and the user's live balance (left + held + pend), and what the database holds. */
  async function liveAndStored(id: number) {
    const b = await node.books(id);
    return { live: [b.live, b.userTotal], stored: [b.quota, b.userQuota] };
  }

  it('usage-flush writes and acknowledges the charges in `pend` between the quota read and the load: the balance is not loaded high', async () => {
    const id = await node.account(1000);
    await settledAcrossARestart(id, 7);
    const next = node.admission(id, 10);
    const other = racyNode(() => node.job.run());
    expect((await other.admit(next)).kind).to.equal('ok');
    const { live, stored } = await liveAndStored(id);
    expect(stored).to.deep.equal([993, 993]);
    expect(live).to.deep.equal([993, 993]);
    expect((await node.job.run()).repaired).to.deep.equal([]);
  });

  it('usage-flush commits the charges in `pend` before the quota read and acknowledges them after the load: the balance is not loaded low', async () => {
    const id = await node.account(1000);
    await settledAcrossARestart(id, 7);
    const next = node.admission(id, 10);
    let admitted: string | undefined;
    const other = racyNode(async () => {});
    // The commit, then a load (which reads the charges in the quota and finds them in `pend`), then the ack.
    class LoadAfterCommit extends ChargeRepository {
      override async applyWithRevs(entries: ChargeEntry[]) {
        const written = await super.applyWithRevs(entries);
        admitted ??= (await other.admit(next)).kind;
        return written;
      }
    }
    const charges = new LoadAfterCommit(node.db, node.usage, node.tokens, node.users);
    const r = await node.flushJob(charges).run();
    expect(admitted).to.equal('ok');
    expect(r.repaired).to.deep.equal([]);
    const { live, stored } = await liveAndStored(id);
    expect(stored).to.deep.equal([993, 993]);
    expect(live).to.deep.equal([993, 993]);
  });

  it('usage-flush dies between its commit and its ack, a balance is loaded, the next run acknowledges the batch: the balance is not left low', async () => {
    const id = await node.account(1000);
    await settledAcrossARestart(id, 7);
    class DiesAfterCommit extends ChargeRepository {
      override async applyWithRevs(entries: ChargeEntry[]): Promise<never> {
        await super.applyWithRevs(entries);
        throw new Error('the node died after its commit');
      }
    }
    const dying = new DiesAfterCommit(node.db, node.usage, node.tokens, node.users);
    const err = await node
      .flushJob(dying)
      .run()
      .catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error).with.property('message', 'the node died after its commit');
    // Read after the commit, loaded before the ack: the 7 are in the quota read and in `pend`.
    expect((await node.store.admit(node.admission(id, 10))).kind).to.equal('ok');
    const r = await node.job.run();
    expect([r.flushed, r.written]).to.deep.equal([1, 0]); // written by the run that died
    expect(r.repaired).to.deep.equal([]);
    const { live, stored } = await liveAndStored(id);
    expect(stored).to.deep.equal([993, 993]);
    expect(live).to.deep.equal([993, 993]);
  });

  it('a load refused at every read (the database changes the quota each time) gives up after 5 reads; the failover store takes the request to the database', async () => {
    const balances = balanceService();
    const id = await node.account(1000);
    let reads = 0;
    const other = new RedisBillingStore(node.client, 'syrace', 'n2/1', async (who, id) => {
      const read = await node.storedQuota(who, id);
      reads++;
      await balances.adjust(who, id, 1, { username: 'admin', requestId: `r${reads}` });
      return read;
    });
    const err = await other.admit(node.admission(id, 10)).catch((e: Error) => e);
    expect(err).to.be.instanceOf(BalanceLoadRefusedError);
    expect(reads).to.equal(5);
    expect(await node.client.hget(node.store.keys.balance('token', id), 'unl')).to.equal(null);
    const local = new FailoverBillingStore(
      other,
      new LocalBillingStore(
        async (who, id) => (await node.storedQuota(who, id))?.quota,
        () => {},
      ),
      () => true,
      pino({ level: 'silent' }),
    );
    expect((await local.admit(node.admission(id, 10))).kind).to.equal('ok');
    expect(reads).to.equal(10);
  });

  it('a journal re-send of charges Redis lost is paid between the quota read and the load: the balance holds it', async () => {
    const id = await node.account(1000);
    for (let i = 0; i < 3; i++) {
      const a = node.admission(id, 10);
      expect((await node.failover.admit(a)).kind).to.equal('ok');
      await node.failover.settle(node.settlement(a, 5));
    }
    // Not flushed yet: the stream dies with Redis; the node's journal writes the charges again.
    await node.srv.kill();
    await node.srv.start();
    await node.ready();
    const other = racyNode(async () => {
      expect((await node.journal.check(Date.now() + 10_000)).rewritten).to.be.at.least(3);
      await node.writer.flush();
      await node.failover.repay();
      expect(node.failover.owed).to.equal(0);
    });
    expect((await other.admit(node.admission(id, 10))).kind).to.equal('ok');
    const { live, stored } = await liveAndStored(id);
    expect(stored).to.deep.equal([985, 985]);
    expect(live).to.deep.equal([985, 985]);
    expect((await node.job.run()).repaired).to.deep.equal([]);
  });

  it("an admin's quota change lands between the quota read and the load: the balance holds it", async () => {
    const balances = balanceService();
    const by = { username: 'admin', requestId: 'r' };
    const id = await node.account(1000);
    const other = racyNode(() => balances.adjust('token', id, -400, by, 'a correction'));
    expect((await other.admit(node.admission(id, 10))).kind).to.equal('ok');
    const { live, stored } = await liveAndStored(id);
    expect(stored).to.deep.equal([600, 1000]);
    expect(live).to.deep.equal([600, 1000]);
    expect((await node.job.run()).repaired).to.deep.equal([]);
  });

  it("a hash made only to record a change's revision expires (an hour), and stays once its balance is loaded or charged", async () => {
    const balances = balanceService();
    const by = { username: 'admin', requestId: 'r' };
    const ttl = (who: 'token' | 'user', id: number) => node.client.ttl(node.store.keys.balance(who, id));
    // A top-up of a token nobody has used: its balance is not loaded, only the revision is kept.
    const unused = await node.account(1000);
    await balances.adjust('token', unused, 50, by, 'a top-up');
    expect(await node.client.hkeys(node.store.keys.balance('token', unused))).to.deep.equal(['mrev']);
    const left = await ttl('token', unused);
    expect(left).to.be.greaterThan(3500).and.at.most(3600);
    // Its first use loads it: no time to live any more.
    expect((await node.failover.admit(node.admission(unused, 10))).kind).to.equal('ok');
    expect(await ttl('token', unused)).to.equal(-1);
    // A charge settled on a hash that held only the revision (Redis restarted, then a top-up
    // before the settle): its `pend` must not expire.
    const used = await node.account(1000);
    const a = node.admission(used, 10);
    expect((await node.failover.admit(a)).kind).to.equal('ok');
    await node.srv.kill();
    await node.srv.start();
    await node.ready();
    await balances.adjust('token', used, 50, by, 'a top-up');
    expect(await ttl('token', used)).to.be.greaterThan(0);
    await node.failover.settle(node.settlement(a, 7));
    expect(await ttl('token', used)).to.equal(-1);
    expect(await node.client.hget(node.store.keys.balance('token', used), 'pend')).to.equal('7');
  });
});
