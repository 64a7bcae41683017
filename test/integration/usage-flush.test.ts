import { expect } from 'chai';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { UsageFlushProcessor } from '../../jobs/usage-flush.processor.js';
import { RedisBillingStore } from '../../lib/billing/redis-billing.store.js';
import type { NodeHeartbeats } from '../../lib/cfg/node-heartbeat.js';
import { createDb, migrateLatest, type Db } from '../../lib/db/knex.js';
import { ChargeRepository } from '../../lib/db/repositories/charge.repository.js';
import { TokenRepository } from '../../lib/db/repositories/token.repository.js';
import { UsageLogRepository } from '../../lib/db/repositories/usage-log.repository.js';
import { UserRepository } from '../../lib/db/repositories/user.repository.js';
import { Metrics } from '../../lib/obs/metrics.js';
import { deletePrefix, REDIS_URL } from '../helpers/cluster.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../helpers/databases.js';
import { usageRow } from '../helpers/fixtures.js';

describe('usage-flush job (Redis stream → MariaDB)', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let db: Db;
  let redis: Redis;
  let prefix: string;
  let store: RedisBillingStore;
  let job: UsageFlushProcessor;

  before(async () => {
    database = await createTestDatabase('mysql');
    db = createDb({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
    await migrateLatest(db);
    await db('users').insert({
      id: 1,
      username: 'u',
      role: 'user',
      quota: 1000,
      version: 1,
      created_at: 0,
      updated_at: 0,
    });
    await db('tokens').insert({
      id: 1,
      name: 't',
      user_id: 1,
      key_hash: 'h',
      key_prefix: 'sk',
      quota: 1000,
      version: 1,
      created_at: 0,
      updated_at: 0,
    });
    redis = new Redis(REDIS_URL);
    prefix = uniqueName('syflush');
    store = new RedisBillingStore(redis, prefix, 'n/1', async () => ({ quota: 1000, rev: 0 }));
    const tokens = new TokenRepository(db);
    const users = new UserRepository(db);
    job = new UsageFlushProcessor({
      store,
      charges: new ChargeRepository(db, new UsageLogRepository(db), tokens, users),
      heartbeats: { list: async () => [] } as unknown as NodeHeartbeats,
      holdTtlMs: 60_000,
      metrics: new Metrics({ defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    });
  });
  after(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await db.destroy();
    await database.drop();
  });

  /** A request's admission and settlement, as the relay makes them. */
  const settle = async (chargeId: string, quota: number, model = 'gpt-4o') => {
    await store.admit({ chargeId, tokenId: 1, userId: 1, reserve: quota, limiters: [] });
    await store.settle({
      chargeId,
      tokenId: 1,
      userId: 1,
      quota,
      tokensDelta: 0,
      tokenWindows: [],
      usage: usageRow({ chargeId, tokenId: 1, userId: 1, quota, model }),
    });
  };

  it('writes settled charges once, and a row MariaDB refuses goes to usage:dead instead of blocking the rest', async () => {
    await settle('a', 10);
    await settle('bad', 20, 'm'.repeat(300)); // longer than the column: refused for its data
    await settle('b', 30);
    const first = await job.run();
    expect(first).to.deep.include({ flushed: 3, written: 2, deadLettered: 1, more: false });
    const rows = await db('usage_logs').orderBy('id').select('charge_id');
    expect(rows.map((r: { charge_id: string }) => r.charge_id)).to.deep.equal(['a', 'b']);
    const token = await db('tokens').where({ id: 1 }).first();
    expect([Number(token.quota), Number(token.used_quota)]).to.deep.equal([960, 40]);
    const dead = await redis.xrange(`${prefix}:usage:dead`, '-', '+');
    expect(dead).to.have.length(1);
    expect(dead[0]![1].join(' ')).to.contain('"chargeId":"bad"').and.contain('Data too long');

    // Settled again (a late or repeated script): nothing new reaches the stream.
    await store.settle({
      chargeId: 'a',
      tokenId: 1,
      userId: 1,
      quota: 10,
      tokensDelta: 0,
      tokenWindows: [],
      usage: usageRow({ chargeId: 'a', tokenId: 1, userId: 1, quota: 10 }),
    });
    expect(await redis.xlen(`${prefix}:usage`)).to.equal(0);
    // A charge already written that comes through the stream again (a batch replayed after a
    // crash between the write and the ack) is skipped.
    await redis.xadd(
      `${prefix}:usage`,
      '*',
      'tl',
      '1',
      'ul',
      '1',
      'e',
      JSON.stringify(usageRow({ chargeId: 'a', tokenId: 1, userId: 1, quota: 10 })),
    );
    expect(await job.run()).to.deep.include({ flushed: 1, written: 0, deadLettered: 0 });
    expect(Number((await db('tokens').where({ id: 1 }).first()).used_quota)).to.equal(40);
  });
});
