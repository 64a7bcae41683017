import { expect } from 'chai';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type {
  Admission,
  BalanceOwner,
  BillingStore,
  ChargeEntry,
  Limiter,
  Settlement,
} from '../../lib/billing/billing-store.js';
import { FailoverBillingStore } from '../../lib/billing/failover-billing.store.js';
import { LocalBillingStore } from '../../lib/billing/local-billing.store.js';
import { RedisBillingStore } from '../../lib/billing/redis-billing.store.js';
import { deletePrefix, REDIS_URL } from '../helpers/cluster.js';
import { uniqueName } from '../helpers/databases.js';
import { usageRow } from '../helpers/fixtures.js';

/** A store under test, the stored quotas it loads from, and the charges it recorded. */
interface Harness {
  store: BillingStore;
  /** Moves the store's clock forward. */
  advance(ms: number): void;
  quotas: Map<string, number | null>;
  charges(): Promise<ChargeEntry[]>;
  close(): Promise<void>;
}

let seq = 0;
const admission = (fields: Partial<Admission> = {}): Admission => ({
  chargeId: `c${++seq}`,
  tokenId: 1,
  userId: 1,
  reserve: 10,
  limiters: [],
  ...fields,
});
const settlement = (a: Admission, quota: number, fields: Partial<Settlement> = {}): Settlement => ({
  chargeId: a.chargeId,
  tokenId: a.tokenId,
  userId: a.userId,
  quota,
  tokensDelta: 0,
  tokenWindows: a.limiters.filter((l) => l.kind === 'tokens').map((l) => ({ key: l.key, limit: l.limit })),
  usage: usageRow({ chargeId: a.chargeId, userId: a.userId, tokenId: a.tokenId, quota }),
  ...fields,
});
const rpm = (key: string, limit: number): Limiter => ({
  key,
  scope: 'token',
  kind: 'requests',
  limit,
  cost: 1,
});

/** A clock that starts now, on a whole second, and moves only when told. */
function testClock() {
  let now = Math.floor(Date.now() / 1000) * 1000;
  return { read: () => now, advance: (ms: number) => void (now += ms) };
}

function localHarness(): Harness {
  const quotas = new Map<string, number | null>();
  const recorded: ChargeEntry[] = [];
  const clock = testClock();
  const store = new LocalBillingStore(
    async (who: BalanceOwner, id: number) =>
      quotas.has(`${who}:${id}`) ? quotas.get(`${who}:${id}`) : undefined,
    (e) => recorded.push(e),
    Infinity,
    clock.read,
  );
  return { store, advance: clock.advance, quotas, charges: async () => recorded, close: async () => {} };
}

function redisHarness(): Harness & { redis: RedisBillingStore; prefix: string; client: Redis } {
  const quotas = new Map<string, number | null>();
  const client = new Redis(REDIS_URL);
  const prefix = uniqueName('sybill');
  const clock = testClock();
  const redis = new RedisBillingStore(
    client,
    prefix,
    'test-node/1',
    async (who, id) =>
      quotas.has(`${who}:${id}`) ? { quota: quotas.get(`${who}:${id}`)!, rev: 1 } : undefined,
    clock.read,
  );
  return {
    store: redis,
    advance: clock.advance,
    redis,
    prefix,
    client,
    quotas,
    charges: async () => redis.pendingCharges(10_000),
    async close() {
      await deletePrefix(client, prefix);
      client.disconnect();
    },
  };
}

for (const [name, make] of [
  ['memory (single node)', localHarness],
  ['Redis (cluster)', redisHarness],
] as const) {
  describe(`billing store in ${name}`, () => {
    let h: Harness;
    beforeEach(() => {
      h = make();
      h.quotas.set('token:1', 100);
      h.quotas.set('user:1', null);
    });
    afterEach(() => h.close());

    it('holds the reserve, settles the real charge, and records it with the balances it lowers', async () => {
      const a = admission({ reserve: 30 });
      const r = await h.store.admit(a);
      expect(r).to.include({ kind: 'ok', tokenLimited: true, userLimited: false });
      // 70 left while held: a 71 hold does not fit, a 70 one would.
      expect((await h.store.admit(admission({ reserve: 71 }))).kind).to.equal('quota');
      await h.store.settle(settlement(a, 12));
      expect((await h.store.admit(admission({ reserve: 88 }))).kind).to.equal('ok'); // 100 - 12
      const charges = await h.charges();
      expect(charges).to.have.length(1);
      expect(charges[0]).to.deep.include({ tokenLimited: true, userLimited: false });
      expect(charges[0]!.usage.quota).to.equal(12);
    });

    it('refunds the hold of a failed request (charge 0) and refuses once nothing is left', async () => {
      const a = admission({ reserve: 100 });
      expect((await h.store.admit(a)).kind).to.equal('ok');
      expect((await h.store.admit(admission({ reserve: 1 }))).kind).to.equal('quota');
      await h.store.settle(settlement(a, 0));
      const b = admission({ reserve: 100 });
      expect((await h.store.admit(b)).kind).to.equal('ok');
      await h.store.settle(settlement(b, 100));
      expect(await h.store.admit(admission({ reserve: 0 }))).to.deep.equal({ kind: 'quota', who: 'token' });
    });

    it("checks the user's balance as well as the token's", async () => {
      h.quotas.set('token:2', null);
      h.quotas.set('user:2', 50);
      const r = await h.store.admit(admission({ tokenId: 2, userId: 2, reserve: 60 }));
      expect(r).to.deep.equal({ kind: 'quota', who: 'user' });
    });

    it('refuses a balance whose row is gone', async () => {
      expect(await h.store.admit(admission({ tokenId: 99 }))).to.deep.equal({ kind: 'quota', who: 'token' });
    });

    it('lets exactly the quota through under 200 concurrent admissions', async () => {
      h.quotas.set('token:3', 70); // 7 holds of 10
      const results = await Promise.all(
        Array.from({ length: 200 }, () => h.store.admit(admission({ tokenId: 3, reserve: 10 }))),
      );
      expect(results.filter((r) => r.kind === 'ok')).to.have.length(7);
    });

    it('settles 60 requests at once exactly (the Redis store sends them in batches)', async () => {
      h.quotas.set('token:4', 10_000);
      const held = Array.from({ length: 60 }, () => admission({ tokenId: 4, reserve: 100 }));
      for (const a of held) expect((await h.store.admit(a)).kind).to.equal('ok');
      await Promise.all(held.map((a, i) => h.store.settle(settlement(a, i))));
      expect((await h.charges()).filter((c) => c.usage.tokenId === 4)).to.have.length(60);
      const spent = (59 * 60) / 2; // 0 + 1 + … + 59
      expect((await h.store.admit(admission({ tokenId: 4, reserve: 10_000 - spent }))).kind).to.equal('ok');
      expect((await h.store.admit(admission({ tokenId: 4, reserve: 1 }))).kind).to.equal('quota');
    });

    it('counts requests per minute: the limit passes at once, the next is refused with a wait', async () => {
      const limiter = rpm(`token:${uniqueName('w')}:rpm`, 3);
      const states = [];
      for (let i = 0; i < 3; i++) {
        const r = await h.store.admit(admission({ reserve: 0, limiters: [limiter] }));
        expect(r.kind).to.equal('ok');
        if (r.kind === 'ok') states.push(r.windows[0]!.remaining);
      }
      expect(states).to.deep.equal([2, 1, 0]);
      const refused = await h.store.admit(admission({ reserve: 0, limiters: [limiter] }));
      expect(refused.kind).to.equal('rate');
      if (refused.kind === 'rate') {
        expect(refused.limiter).to.equal(0);
        expect(refused.retryAfterMs).to.be.within(1, 60_000);
      }
    });

    it('refills continuously: a burst of the limit, then one more per minute/limit, and the headers say when', async () => {
      const limiter = rpm(`token:${uniqueName('s')}:rpm`, 3); // one more every 20 s
      const admit = () => h.store.admit(admission({ reserve: 0, limiters: [limiter] }));
      const first = await admit();
      if (first.kind !== 'ok') return expect.fail('expected ok');
      expect(first.windows[0]).to.deep.equal({ remaining: 2, resetMs: 20_000 });
      await admit();
      const third = await admit();
      if (third.kind !== 'ok') return expect.fail('expected ok');
      expect(third.windows[0]).to.deep.equal({ remaining: 0, resetMs: 60_000 });
      expect(await admit()).to.deep.equal({ kind: 'rate', limiter: 0, retryAfterMs: 20_000 });
      h.advance(19_000);
      expect(await admit()).to.deep.equal({ kind: 'rate', limiter: 0, retryAfterMs: 1_000 });
      h.advance(1_000);
      expect((await admit()).kind).to.equal('ok');
      expect((await admit()).kind).to.equal('rate');
      h.advance(60_000); // a quiet minute: the whole burst again
      const full = await admit();
      if (full.kind !== 'ok') return expect.fail('expected ok');
      expect(full.windows[0]!.remaining).to.equal(2);
    });

    it('a refused admission takes nothing: no hold, nothing from any limit', async () => {
      const ok = rpm(`token:${uniqueName('a')}:rpm`, 10);
      const full = rpm(`user:${uniqueName('b')}:rpm`, 0);
      expect((await h.store.admit(admission({ reserve: 50, limiters: [ok, full] }))).kind).to.equal('rate');
      const r = await h.store.admit(admission({ reserve: 100, limiters: [ok] }));
      expect(r.kind).to.equal('ok');
      if (r.kind === 'ok') expect(r.windows[0]!.remaining).to.equal(9);
    });

    it('corrects the token limit with the real tokens at settlement', async () => {
      const key = `token:${uniqueName('t')}:tpm`;
      const tpm: Limiter = { key, scope: 'token', kind: 'tokens', limit: 1000, cost: 600 };
      const a = admission({ reserve: 0, limiters: [tpm] });
      expect((await h.store.admit(a)).kind).to.equal('ok');
      // 400 left: a second 600 does not fit until the first one turns out to be 100 tokens.
      expect((await h.store.admit(admission({ reserve: 0, limiters: [tpm] }))).kind).to.equal('rate');
      await h.store.settle(settlement(a, 0, { tokensDelta: -500 }));
      expect((await h.store.admit(admission({ reserve: 0, limiters: [tpm] }))).kind).to.equal('ok');
    });

    it('a request larger than the whole limit is refused with no wait that could help (-1)', async () => {
      const tpm: Limiter = {
        key: `token:${uniqueName('x')}:tpm`,
        scope: 'token',
        kind: 'tokens',
        limit: 10,
        cost: 11,
      };
      const r = await h.store.admit(admission({ reserve: 0, limiters: [tpm] }));
      expect(r).to.deep.equal({ kind: 'rate', limiter: 0, retryAfterMs: -1 });
    });

    it('follows quota changes: a delta, a switch to unlimited and back', async () => {
      const a = admission({ reserve: 40 });
      await h.store.admit(a); // loaded: 100, 40 held
      await h.store.changeQuota({ who: 'token', id: 1, quota: 150, delta: 50, changeId: 'q1', rev: 2 });
      expect((await h.store.admit(admission({ reserve: 111 }))).kind).to.equal('quota'); // 110 left
      await h.store.changeQuota({ who: 'token', id: 1, quota: null, delta: null, changeId: 'q2', rev: 3 });
      expect((await h.store.admit(admission({ reserve: 10_000 }))).kind).to.equal('ok');
      // Back to limited: 20, minus what is still held from before (40).
      await h.store.changeQuota({ who: 'token', id: 1, quota: 20, delta: null, changeId: 'q3', rev: 4 });
      expect((await h.store.admit(admission({ reserve: 0 }))).kind).to.equal('quota');
      await h.store.settle(settlement(a, 0));
      expect((await h.store.admit(admission({ reserve: 20 }))).kind).to.equal('ok');
    });

    it('counts admin API hits per key the same way', async () => {
      const key = `ip:${uniqueName('ip')}`;
      expect((await h.store.hit(key, 2)).ok).to.equal(true);
      expect((await h.store.hit(key, 2)).ok).to.equal(true);
      const third = await h.store.hit(key, 2);
      expect(third.ok).to.equal(false);
      expect(third.retryAfterMs).to.be.within(1, 60_000);
    });
  });
}

describe('billing store in Redis: holds that never settle', () => {
  let h: ReturnType<typeof redisHarness>;
  beforeEach(() => {
    h = redisHarness();
    h.quotas.set('token:1', 100);
    h.quotas.set('user:1', 100);
  });
  afterEach(() => h.close());

  it("refunds a dead process's hold once; a late settlement then charges without a second refund", async () => {
    const a = admission({ reserve: 60 });
    expect((await h.redis.admit(a)).kind).to.equal('ok');
    expect(await h.redis.reapHolds(60_000, 0, new Set(['test-node/1']))).to.equal(0); // alive: kept
    expect(await h.redis.reapHolds(60_000, 0, new Set())).to.equal(1); // dead: refunded
    expect(await h.redis.reapHolds(60_000, 0, new Set())).to.equal(0);
    await h.redis.settle(settlement(a, 25));
    const [left, held] = await h.client.hmget(h.redis.keys.balance('token', 1), 'left', 'held');
    expect([Number(left), Number(held)]).to.deep.equal([75, 0]);
    expect(await h.client.hget(h.redis.keys.balance('user', 1), 'left')).to.equal('75');
  });

  it('refunds a hold older than the hold TTL even when its process is alive', async () => {
    expect((await h.redis.admit(admission({ reserve: 60 }))).kind).to.equal('ok');
    h.advance(20);
    expect(await h.redis.reapHolds(10, 0, new Set(['test-node/1']))).to.equal(1);
    expect(await h.client.hget(h.redis.keys.balance('token', 1), 'left')).to.equal('100');
  });

  it('acknowledged charges leave the stream', async () => {
    const a = admission();
    await h.redis.admit(a);
    await h.redis.settle(settlement(a, 5));
    const pending = await h.redis.pendingCharges(10);
    expect(pending.map((c) => c.usage.chargeId)).to.deep.equal([a.chargeId]);
    await h.redis.ackCharges(pending, { tokenRevs: new Map(), userRevs: new Map() });
    expect(await h.redis.pendingCharges(10)).to.deep.equal([]);
  });
});

describe('billing store failover (a cluster node while Redis is away)', () => {
  let h: ReturnType<typeof redisHarness>;
  beforeEach(() => {
    h = redisHarness();
    h.quotas.set('token:1', 1000);
    h.quotas.set('user:1', null);
  });
  afterEach(() => h.close());

  it('bills on the database while Redis is down, then pays the Redis balance what it owes; an unlimited one stays unlimited', async () => {
    let up = true;
    const written: ChargeEntry[] = [];
    const load = async (who: BalanceOwner, id: number) => h.quotas.get(`${who}:${id}`);
    const store = new FailoverBillingStore(
      h.redis,
      new LocalBillingStore(load, (e) => written.push(e)),
      () => up,
      pino({ level: 'silent' }),
    );
    const first = admission({ reserve: 100 });
    expect((await store.admit(first)).kind).to.equal('ok'); // on Redis: loads the balance (rev 1)
    await store.settle(settlement(first, 40));
    expect(await h.client.hget(h.redis.keys.balance('token', 1), 'left')).to.equal('960');

    up = false;
    const second = admission({ reserve: 100 });
    expect((await store.admit(second)).kind).to.equal('ok'); // locally, on the database's balance
    await store.settle(settlement(second, 25));
    expect(written.map((e) => [e.usage.chargeId, e.tokenLimited, e.userLimited])).to.deep.equal([
      [second.chargeId, true, false],
    ]);
    // The database wrote it at the token's revision 2 (the user is unlimited: not charged there).
    store.charged(written, {
      fresh: new Set([second.chargeId]),
      tokenRevs: new Map([[1, 2]]),
      userRevs: new Map(),
    });
    expect(store.owed).to.equal(1);

    up = true;
    await store.repay();
    expect(store.owed).to.equal(0);
    expect(await h.client.hget(h.redis.keys.balance('token', 1), 'left')).to.equal('935');
    expect(await h.client.hget(h.redis.keys.balance('user', 1), 'unl')).to.equal('1');
    // Sent again (a reply lost on the way): charged once.
    await h.redis.repay([
      {
        kind: 'charge',
        chargeId: second.chargeId,
        tokenId: 1,
        userId: 1,
        quota: 25,
        tokenRev: 2,
        userRev: 0,
      },
    ]);
    expect(await h.client.hget(h.redis.keys.balance('token', 1), 'left')).to.equal('935');
  });
});
