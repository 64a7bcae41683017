import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { wireBilling } from './billing/billing-wiring.js';
import { tokenCounter } from './billing/token-counter.js';
import { defaultCatalogue, type PriceCatalogue } from './billing/price-catalogue.js';
import { PriceSeeder } from './billing/price-seeder.js';
import type { ClusterNode } from './cfg/cluster-node.js';
import { ConfigSync, type SyncHooks } from './cfg/config-sync.js';
import { RedisHealthShare } from './cfg/health-share.js';
import { IdentityCache } from './cfg/identity-cache.js';
import { InvalidationPublisher } from './cfg/invalidation-publisher.js';
import { ApplyLog } from './cfg/apply-log.js';
import { LayeredConfigSource, RedisVersionProbe } from './cfg/layered-config-source.js';
import { NewestVersionProbe } from './cfg/newest-version-probe.js';
import { NodeStatus } from './cfg/node-status.js';
import type { Config } from './config/config.js';
import type { Db } from './db/knex.js';
import { UsageHourlyBackfill } from './db/usage-hourly-backfill.js';
import { createLogger } from './obs/logger.js';
import { Metrics } from './obs/metrics.js';
import { UpstreamStats } from './relay/upstream-stats.js';
import { ChannelHealth } from './routing/channel-health.js';
import type { Random } from './routing/channel-selector.js';
import { HttpServer, wireAdmin, type AdminParts } from './wiring/admin.js';
import { wireCluster, wireRedis } from './wiring/cluster.js';
import { Lifecycle } from './wiring/lifecycle.js';
import { wireRelay, wireUpstream } from './wiring/relay.js';
import { TimerScheduler } from './wiring/scheduler.js';
import { wireStorage } from './wiring/storage.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Tests: a SQLite file of their own (or ':memory:'). */
  sqliteFile?: string;
  /** Tests: a seeded generator for channel draws. */
  random?: Random;
  /** Tests: skip default process metrics (they are global to prom-client). */
  defaultMetrics?: boolean;
  /** Tests: the built web console's folder (default: web/dist in the package). */
  consoleDir?: string;
  /** Tests: the price catalogue to seed instead of the shipped one (a later release's). */
  priceCatalogue?: PriceCatalogue;
}

/**
 * One Switchyard node: the composition root. The wiring functions in `lib/wiring/` build each
 * part with its dependencies and return it; here they are put together and their components
 * registered in start order (`stop()` runs them in reverse). Nothing else happens here.
 */
export class Gateway {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Db;
  readonly sync: ConfigSync;
  readonly status: NodeStatus;
  /** The admin token printed on the very first start (undefined on every other start). */
  bootstrapAdminToken: string | undefined;

  private readonly lifecycle: Lifecycle;
  private readonly http: HttpServer;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    opts: GatewayOptions = {},
  ) {
    const logger = (this.logger =
      opts.logger ??
      createLogger({ level: config.logLevel, pretty: config.logPretty, base: { node: config.nodeId } }));
    const metrics = (this.metrics = new Metrics({ defaultMetrics: opts.defaultMetrics }));
    metrics.watchEventLoop();
    const storage = wireStorage(config, logger, opts.sqliteFile);
    this.db = storage.db;
    const { repos, writer, dbSource } = storage;
    const redis = config.role === 'single' ? undefined : wireRedis(config, logger);

    // Channel health (cooldowns, breakers), shared through Redis in a cluster.
    const healthShare =
      redis &&
      new RedisHealthShare(
        redis.command,
        config.redisPrefix,
        config.nodeId,
        logger.child({ component: 'channel-health' }),
      );
    const channelHealth = new ChannelHealth(config.resilience.breaker, healthShare);
    metrics.watchChannelHealth(() => channelHealth.snapshot());
    const stats = new UpstreamStats(
      metrics,
      redis && {
        client: redis.command,
        prefix: config.redisPrefix,
        logger: logger.child({ component: 'upstream-stats' }),
      },
    );
    const upstream = wireUpstream(config);

    // Config: read through L2 in a cluster, applied by the sync loop on every node.
    const source = redis
      ? new LayeredConfigSource(redis.l2, dbSource, logger.child({ component: 'cfg-l2' }))
      : dbSource;
    const identities = new IdentityCache(source, {
      ...config.tokenCache,
      // A change's version floor must outlive any stale L2 entry: the resync job heals L2 each interval.
      floorTtlMs: 2 * config.resyncEveryMs + 60_000,
    });
    const redisProbe = redis ? new RedisVersionProbe(redis.l2) : undefined;
    // The poll reads Redis's version and the database's, so a change committed without a
    // publish is seen within CONFIG_POLL_MS too (the database alone while Redis is away).
    const newestProbe = redisProbe ? new NewestVersionProbe(redisProbe, dbSource) : undefined;
    // The sync and the cluster node need each other: the hook is filled in once the node exists.
    const syncHooks: SyncHooks = {
      applyLog: config.configApplyLog > 0 ? new ApplyLog(config.configApplyLog) : undefined,
    };
    const sync = (this.sync = new ConfigSync(
      source,
      redisProbe ?? dbSource,
      identities,
      storage.decrypt,
      metrics,
      logger.child({ component: 'cfg-sync' }),
      syncHooks,
    ));
    // In a cluster the master first publishes the change (L2, cfg:version, message), so the
    // replicas start applying it at once and its own apply below reads the entity from L2.
    if (redis && config.role === 'master') {
      writer.addListener(
        new InvalidationPublisher(
          redis.l2,
          config.nodeId,
          metrics,
          logger.child({ component: 'cfg-publisher' }),
        ),
      );
    }
    // Every node applies its own change right after commit (a master gets its own message back later, as a duplicate).
    writer.addListener({ onCommitted: (change) => sync.notify(change) });

    const billing = wireBilling({
      db: storage.db,
      tokens: repos.tokens,
      users: repos.users,
      usage: repos.usage,
      prices: () => sync.prices,
      options: config.billing,
      metrics,
      logger,
      redis: redis && {
        client: redis.command,
        prefix: config.redisPrefix,
        // NODE_ID has no commas (validated): the hold info is comma-separated.
        holder: `${config.nodeId}/${process.pid}`,
        ready: () => redis.command.status === 'ready',
      },
    });
    const admin: AdminParts = wireAdmin({
      config,
      storage,
      upstream,
      billing,
      channelHealth,
      stats,
      redis: redis?.command,
      logger,
    });

    const cluster =
      redis &&
      wireCluster({
        config,
        redis,
        db: this.db,
        repos,
        sync,
        channelHealth,
        healthChannel: healthShare!.channel,
        billing,
        channelTests: admin.channelTests,
        autoDisable: (job) => admin.channels.autoDisable(job.channelId, job.reason),
        metrics,
        logger,
      });
    const node: ClusterNode | undefined = cluster?.node;
    if (node) syncHooks.versionMissing = (state) => node.redisLostItsState(state);
    this.status = new NodeStatus(config.role, config.nodeId, Date.now(), sync, repos.state, node, () =>
      repos.channels.versions(),
    );

    const relay = wireRelay({
      config,
      upstream,
      repos,
      identities,
      routing: () => sync.routing,
      channelHealth,
      stats,
      billing: billing.service,
      channels: admin.channels,
      requestAutoDisable:
        config.role === 'slave' && cluster
          ? (channelId, reason) => cluster.jobs.requestAutoDisable({ channelId, reason })
          : undefined,
      ready: () => this.status.ready,
      random: opts.random,
      metrics,
      logger,
    });
    const http = (this.http = new HttpServer(
      config,
      {
        admin,
        userRecords: repos.users,
        relay: relay.handler,
        status: this.status,
        billing,
        queues: cluster ? [cluster.jobs.queue, cluster.jobs.billingQueue, cluster.jobs.masterQueue] : [],
        consoleDir: opts.consoleDir,
        metrics,
        logger,
      },
      logger,
    ));
    // A single node runs its scheduled work on timers (a cluster: BullMQ jobs, inside the cluster node).
    const scheduler =
      config.role === 'single'
        ? new TimerScheduler(
            [
              {
                name: 'channel-test',
                everyMs: config.resilience.channelTestEveryMs,
                run: () => admin.channelTests.run(),
              },
            ],
            logger.child({ component: 'scheduler' }),
          )
        : undefined;

    // Start order; stop runs it in reverse.
    const lifecycle = (this.lifecycle = new Lifecycle(logger));
    lifecycle.add({ name: 'event-loop-monitor', stop: () => metrics.close() });
    lifecycle.add(storage.component);
    if (redis) lifecycle.add(redis.component);
    lifecycle.add(upstream.component);
    // Replicas never write config: the root user is the master's (or the single node's) to create.
    if (config.role !== 'slave') lifecycle.add({ name: 'bootstrap', start: () => this.bootstrap(admin) });
    if (node)
      lifecycle.add({ name: 'preflight', start: async () => node.preflight(await repos.state.read()) });
    // The default price catalogue, after the preflight (a second master is refused before it
    // writes anything); each model once ever, through the versioned writer like any price.
    if (config.role !== 'slave' && config.billing.seedPrices) {
      const seeder = new PriceSeeder(
        storage.db,
        repos.prices,
        repos.priceSeeds,
        writer,
        logger.child({ component: 'price-seed' }),
      );
      const catalogue = opts.priceCatalogue ?? defaultCatalogue;
      lifecycle.add({ name: 'price-seed', start: () => seeder.seed(catalogue).then(() => undefined) });
    }
    // Local token counts run in a worker thread started at the first count (none, no tables in
    // memory); the gateway's stop ends it (the last gateway of the process, in tests).
    lifecycle.add({
      name: 'tokenizer',
      start: async () => tokenCounter.hold(logger.child({ component: 'tokenizer' })),
      stop: () => tokenCounter.release(),
    });
    lifecycle.add(http.listener);
    // From now on a channel pointing at this gateway's own port is refused.
    lifecycle.add({
      name: 'self-port',
      start: async () => void (upstream.policy.selfPort = http.address!.port),
    });
    // Subscribed before the first snapshot, so no change can fall between the two.
    if (node) lifecycle.add({ name: 'subscriber', start: () => node.subscribe() });
    lifecycle.add({ name: 'channel-health', start: () => healthShare?.load(channelHealth).catch(() => {}) });
    lifecycle.add({
      name: 'config-sync',
      start: async () => {
        await sync.start();
        sync.startPolling(config.configPollMs, () =>
          node && !node.isRedisReady ? dbSource : (newestProbe ?? dbSource),
        );
      },
      stop: () => sync.stop(),
    });
    if (node)
      lifecycle.add({
        name: 'cluster',
        start: () => node.start(http.address!.port),
        stop: () => node.stop(),
      });
    lifecycle.add({
      name: 'token-touches',
      start: () => relay.touches.start(),
      stop: () => relay.touches.stop(),
    });
    // Settlements under way finish (in a cluster, onto the Redis stream) before Redis closes.
    lifecycle.add({ name: 'billing', start: () => billing.start(), stop: () => billing.stop() });
    lifecycle.add({ name: 'upstream-stats', start: () => stats.start(), stop: () => stats.stop() });
    if (scheduler) lifecycle.add(scheduler);
    // The usage rows logged before the hourly roll-up existed, rolled up in the background by
    // the one node that writes config (a replica never does): the dashboard reads them raw
    // until then. Nothing to do, and one read, once it is complete.
    if (config.role !== 'slave') {
      const backfill = new UsageHourlyBackfill(
        repos.usageRollup,
        logger.child({ component: 'usage-hourly-backfill' }),
      );
      lifecycle.add({ name: backfill.name, start: () => backfill.start(), stop: () => backfill.stop() });
    }
    lifecycle.add(http.drain);
  }

  /** Migrates, creates the root user on first start, listens, runs the first full sync, starts the rest. */
  async start(): Promise<AddressInfo> {
    await this.lifecycle.start();
    const address = this.http.address!;
    this.logger.info(
      { port: address.port, host: address.address, role: this.status.role },
      'Switchyard is listening',
    );
    return address;
  }

  /** Graceful stop: refuse new work, let in-flight requests finish (bounded), stop every part in reverse order. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.status.markShuttingDown();
      await this.lifecycle.stop();
      this.logger.info('Switchyard stopped');
    })();
    return this.stopping;
  }

  private async bootstrap(admin: AdminParts): Promise<void> {
    const root = await admin.users.bootstrapRoot();
    if (root && !this.config.adminToken) {
      const issued = await admin.users.issueAccessToken(root.id, 'bootstrap');
      this.bootstrapAdminToken = issued.token;
    }
  }
}
