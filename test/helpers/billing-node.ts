import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { UsageFlushProcessor } from '../../jobs/usage-flush.processor.js';
import { BalanceReconciler } from '../../lib/billing/balance-reconciler.js';
import type { Admission, BalanceOwner, Settlement, StoredQuota } from '../../lib/billing/billing-store.js';
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
import { createTestDatabase, type TestDatabase } from './databases.js';
import { usageRow } from './fixtures.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { waitFor } from './wait.js';

const silent = pino({ level: 'silent' });

/**
 * One cluster node's billing, wired as lib/billing/billing-wiring.ts wires it, on a MariaDB
 * database and a Redis of the test's own (which the test may kill, start again empty, or
 * pause), with the usage-flush job and its reconciliation.
 */
export interface BillingNode {
  db: Db;
  srv: PrivateRedis;
  /** The node's command connection: fails fast, 1 s command timeout. */
  client: Redis;
  tokens: TokenRepository;
  users: UserRepository;
  usage: UsageLogRepository;
  charges: ChargeRepository;
  store: RedisBillingStore;
  failover: FailoverBillingStore;
  writer: ChargeWriter;
  journal: SettlementJournal;
  job: UsageFlushProcessor;
  metrics: Metrics;
  /** Makes the node see Redis as away without losing it (a network cut). */
  cut: boolean;
  /** The stored quota and revision of a row, as a node reads it to load a balance. */
  storedQuota(who: BalanceOwner, id: number): Promise<StoredQuota | undefined>;
  /** Another usage-flush job on the same Redis and database (its own `charges`, when given). */
  flushJob(charges?: ChargeRepository): UsageFlushProcessor;
  /** A user and a token of their own (same id), each with `quota`. */
  account(quota: number): Promise<number>;
  admission(id: number, reserve?: number): Admission;
  settlement(a: Admission, quota: number): Settlement;
  /** The database's books and the live balances of a token and its user (same numbers). */
  books(id: number): Promise<Books>;
  /** Waits (bounded) until Redis answers again. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface Books {
  quota: number;
  used: number;
  userQuota: number;
  userUsed: number;
  /** The token's `consume` rows: their sum and count. */
  logged: number;
  rows: number;
  /** The live token balance: left + held + pend. */
  live: number;
  /** The live user balance's `left`, and its left + held + pend. */
  userLive: number;
  userTotal: number;
  left: number;
  held: number;
}

export async function startBillingNode(prefix: string): Promise<BillingNode> {
  const database: TestDatabase = await createTestDatabase('mysql');
  const db = createDb({ databaseUrl: database.databaseUrl, dataDir: database.dataDir });
  await migrateLatest(db);
  const srv = await startPrivateRedis();
  const client = createRedis(srv.url, { prefix, nodeId: 'n', role: 'command', logger: silent });
  client.on('error', () => {});
  await waitFor(() => client.status === 'ready', 5000, 'redis ready');
  const tokens = new TokenRepository(db);
  const users = new UserRepository(db);
  const usage = new UsageLogRepository(db);
  const charges = new ChargeRepository(db, usage, tokens, users);
  const metrics = new Metrics({ defaultMetrics: false });
  const storedQuota = (who: BalanceOwner, id: number) => (who === 'token' ? tokens : users).quotaOf(id);
  const store = new RedisBillingStore(client, prefix, 'n/1', storedQuota);
  const writer = new ChargeWriter(charges, silent, undefined, (batch, written) =>
    failover.charged(batch, written),
  );
  const journal = new SettlementJournal({
    inDatabase: (ids) => usage.existing(db, ids),
    inRedis: (ids) => store.knows(ids),
    rewrite: (e) => writer.push(e),
    logger: silent,
  });
  const failover = new FailoverBillingStore(
    store,
    new LocalBillingStore(
      async (who, id) => (await storedQuota(who, id))?.quota,
      (e) => writer.push(e),
      2000,
    ),
    () => !node.cut && client.status === 'ready',
    silent,
    journal,
  );
  const reconciler = new BalanceReconciler(store, db, tokens, users, usage, metrics, silent);
  const flushJob = (with_ = charges) =>
    new UsageFlushProcessor({
      store,
      charges: with_,
      heartbeats: { list: async () => [{ nodeId: 'n', pid: 1 }] } as unknown as NodeHeartbeats,
      holdTtlMs: 60_000,
      reconciler,
      metrics,
      logger: silent,
    });
  let nextId = 100;
  let seq = 0;
  const node: BillingNode = {
    db,
    srv,
    client,
    tokens,
    users,
    usage,
    charges,
    store,
    failover,
    writer,
    journal,
    job: flushJob(),
    metrics,
    cut: false,
    storedQuota,
    flushJob,
    async account(quota) {
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
    },
    admission: (id, reserve = 10) => ({
      chargeId: `f${++seq}-${id}`,
      tokenId: id,
      userId: id,
      reserve,
      limiters: [],
    }),
    settlement: (a, quota) => ({
      chargeId: a.chargeId,
      tokenId: a.tokenId,
      userId: a.userId,
      quota,
      tokensDelta: 0,
      tokenWindows: [],
      usage: usageRow({ chargeId: a.chargeId, userId: a.userId, tokenId: a.tokenId, quota }),
    }),
    async books(id) {
      const t = await db('tokens').where({ id }).first('quota', 'used_quota');
      const u = await db('users').where({ id }).first('quota', 'used_quota');
      const rows = await db('usage_logs').where({ token_id: id, type: 'consume' }).select('quota');
      const live = async (who: BalanceOwner) =>
        (await client.hmget(store.keys.balance(who, id), 'left', 'held', 'pend')).map((v) => Number(v ?? 0));
      const [left, held, pend] = await live('token');
      const [uleft, uheld, upend] = await live('user');
      return {
        quota: Number(t.quota),
        used: Number(t.used_quota),
        userQuota: Number(u.quota),
        userUsed: Number(u.used_quota),
        logged: rows.reduce((s: number, r: { quota: number }) => s + Number(r.quota), 0),
        rows: rows.length,
        live: left! + held! + pend!,
        userLive: uleft!,
        userTotal: uleft! + uheld! + upend!,
        left: left!,
        held: held!,
      };
    },
    ready: () =>
      waitFor(
        async () => client.status === 'ready' && (await client.ping().catch(() => '')) === 'PONG',
        10_000,
        'redis back',
      ),
    async close() {
      client.disconnect();
      await srv.close();
      await db.destroy();
      await database.drop();
    },
  };
  return node;
}
