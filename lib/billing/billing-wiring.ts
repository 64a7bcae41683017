import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Db } from '../db/knex.js';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import type { UsageLogRepository } from '../db/repositories/usage-log.repository.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import type { Metrics } from '../obs/metrics.js';
import { BalanceService } from './balance.service.js';
import { BillingService, type BillingOptions } from './billing.service.js';
import type { BillingStore, ChargeEntry, QuotaSource, StoredQuotaSource } from './billing-store.js';
import { ChargeRepository } from '../db/repositories/charge.repository.js';
import { ChargeWriter } from './charge-writer.js';
import { FailoverBillingStore } from './failover-billing.store.js';
import { LocalBillingStore } from './local-billing.store.js';
import type { PriceBook } from './price-book.js';
import { RedisBillingStore } from './redis-billing.store.js';
import { SettlementJournal } from './settlement-journal.js';

export interface BillingParts {
  service: BillingService;
  balances: BalanceService;
  charges: ChargeRepository;
  /** The store every part uses (the admin API's per-IP counter too). */
  store: BillingStore;
  /** Cluster only: the Redis store the usage-flush job drains. */
  redisStore?: RedisBillingStore;
  start(): void;
  stop(): Promise<void>;
}

/** How often a cluster node tries to pay the Redis balances what it charged the database while Redis was away. */
const REPAY_EVERY_MS = 1000;
/** How often (in repay ticks) a cluster node checks that what it settled on Redis reached the database. */
const JOURNAL_CHECK_EVERY_TICKS = 2;
/** While Redis is away, a cluster node re-reads balances from the database this often. */
const DEGRADED_BALANCE_REFRESH_MS = 2000;

/**
 * Builds billing for this node: on a single node, balances and windows in memory with charges
 * written to the database each tick; in a cluster, Redis (Lua) with the database as the
 * fallback while Redis is away.
 */
export function wireBilling(deps: {
  db: Db;
  tokens: TokenRepository;
  users: UserRepository;
  usage: UsageLogRepository;
  prices: () => PriceBook;
  options: BillingOptions;
  metrics: Metrics;
  logger: Logger;
  /** Cluster: the command connection, the key prefix, this process's hold tag, and whether Redis answers. */
  redis?: { client: Redis; prefix: string; holder: string; ready: () => boolean };
}): BillingParts {
  const charges = new ChargeRepository(deps.db, deps.usage, deps.tokens, deps.users);
  const storedQuota: StoredQuotaSource = (who, id) =>
    (who === 'token' ? deps.tokens : deps.users).quotaOf(id);
  const loadQuota: QuotaSource = async (who, id) => (await storedQuota(who, id))?.quota;
  let store: BillingStore;
  let redisStore: RedisBillingStore | undefined;
  let failover: FailoverBillingStore | undefined;
  let journal: SettlementJournal | undefined;
  // The cluster's local path tells the failover store what it wrote (with the rows' revisions).
  const writer = new ChargeWriter(
    charges,
    deps.logger.child({ component: 'charges' }),
    undefined,
    deps.redis ? (batch, written) => failover?.charged(batch, written) : undefined,
  );
  const record = (entry: ChargeEntry) => writer.push(entry);
  if (deps.redis) {
    redisStore = new RedisBillingStore(deps.redis.client, deps.redis.prefix, deps.redis.holder, storedQuota);
    const rs = redisStore;
    journal = new SettlementJournal({
      inDatabase: (ids) => deps.usage.existing(deps.db, ids),
      inRedis: (ids) => rs.knows(ids),
      rewrite: record,
      logger: deps.logger.child({ component: 'billing' }),
    });
    failover = new FailoverBillingStore(
      redisStore,
      new LocalBillingStore(loadQuota, record, DEGRADED_BALANCE_REFRESH_MS),
      deps.redis.ready,
      deps.logger.child({ component: 'billing' }),
      journal,
    );
    store = failover;
  } else {
    store = new LocalBillingStore(loadQuota, record);
  }
  const service = new BillingService(
    store,
    deps.prices,
    deps.options,
    deps.metrics,
    deps.logger.child({ component: 'billing' }),
  );
  const balances = new BalanceService(
    deps.db,
    deps.tokens,
    deps.users,
    deps.usage,
    store,
    deps.logger.child({ component: 'balances' }),
  );
  let timer: NodeJS.Timeout | undefined;
  // What this node charged on the database while its Redis connection was down is paid the moment
  // it is back, not at the next tick: until then the live balances other nodes use miss it.
  const onRedisReady = () => {
    if (failover && failover.owed > 0) void failover.repay();
  };
  return {
    service,
    balances,
    charges,
    store,
    redisStore,
    start() {
      if (!failover) return;
      let tick = 0;
      let checking = false;
      const ready = deps.redis!.ready;
      timer = setInterval(() => {
        if (failover.owed > 0) void failover.repay();
        if (++tick % JOURNAL_CHECK_EVERY_TICKS !== 0 || !journal || journal.size === 0) return;
        if (checking || !ready()) return;
        checking = true;
        journal
          .check()
          .catch((err: unknown) =>
            deps.logger.warn({ err: { message: (err as Error).message } }, 'settlement journal check failed'),
          )
          .finally(() => (checking = false));
      }, REPAY_EVERY_MS);
      timer.unref();
      deps.redis!.client.on('ready', onRedisReady);
    },
    async stop() {
      if (timer) clearInterval(timer);
      deps.redis?.client.off('ready', onRedisReady);
      await service.drain();
      await writer.stop();
      if (failover && failover.owed > 0) await failover.repay();
    },
  };
}
