import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AdminAuthService } from './admin/admin-auth.service.js';
import { ChannelService } from './admin/channel.service.js';
import { TokenService } from './admin/token.service.js';
import { UserService } from './admin/user.service.js';
import { PricingService } from './admin/pricing.service.js';
import { UsageService } from './admin/usage.service.js';
import { BalanceReconciler } from './billing/balance-reconciler.js';
import { wireBilling, type BillingParts } from './billing/billing-wiring.js';
import type { Redis } from 'ioredis';
import { ConfigResyncProcessor } from '../jobs/config-resync.processor.js';
import { UsageFlushProcessor } from '../jobs/usage-flush.processor.js';
import { ChannelTestProcessor } from '../jobs/channel-test.processor.js';
import { JobRunner } from '../jobs/job-runner.js';
import { ClusterNode } from './cfg/cluster-node.js';
import { ConfigSync, type VersionProbe } from './cfg/config-sync.js';
import { InvalidationPublisher } from './cfg/invalidation-publisher.js';
import { InvalidationSubscriber } from './cfg/invalidation-subscriber.js';
import { L2Store } from './cfg/l2-store.js';
import { LayeredConfigSource, RedisVersionProbe } from './cfg/layered-config-source.js';
import { NewestVersionProbe } from './cfg/newest-version-probe.js';
import { ApplyLog } from './cfg/apply-log.js';
import { NodeHeartbeats } from './cfg/node-heartbeat.js';
import { createRedis, type RedisRole } from './redis/redis-client.js';
import { RedisHealthShare } from './cfg/health-share.js';
import { ChannelHealth } from './routing/channel-health.js';
import { ChannelHealthService } from './admin/channel-health.service.js';
import { ChannelTestRepository } from './db/repositories/channel-test.repository.js';
import { ChannelTester } from './relay/channel-tester.js';
import { UpstreamStats } from './relay/upstream-stats.js';
import { DedupingDisabler } from './relay/channel-disabler.js';
import { DbConfigSource } from './cfg/db-config-source.js';
import { IdentityCache } from './cfg/identity-cache.js';
import { NodeStatus } from './cfg/node-status.js';
import { VersionedWriter } from './cfg/versioned-writer.js';
import type { Config } from './config/config.js';
import { ConfigError } from './errors/config.error.js';
import { createDb, migrateLatest, sqliteFileOf, type Db } from './db/knex.js';
import { SqliteCheckpointer } from './db/sqlite-checkpointer.js';
import { AccessTokenRepository } from './db/repositories/access-token.repository.js';
import { ChannelRepository } from './db/repositories/channel.repository.js';
import { ConfigStateRepository } from './db/repositories/config-state.repository.js';
import { GroupRepository } from './db/repositories/group.repository.js';
import { PriceRepository } from './db/repositories/price.repository.js';
import { TokenRepository } from './db/repositories/token.repository.js';
import { UsageLogRepository } from './db/repositories/usage-log.repository.js';
import { UserRepository } from './db/repositories/user.repository.js';
import { createHttpApp } from './http/http-app.js';
import { RelayHttpHandler } from './http/relay-handler.js';
import { createLogger } from './obs/logger.js';
import { Metrics } from './obs/metrics.js';
import { createAdapters } from './relay/adapters/index.js';
import { RelayAuth } from './relay/relay-auth.js';
import { RelayService } from './relay/relay.service.js';
import { TokenTouches } from './relay/token-touches.js';
import { UpstreamClient } from './relay/upstream-client.js';
import type { Random } from './routing/channel-selector.js';
import { loadOrCreateSecretKey } from './security/secret-key-file.js';
import { SecretBox } from './security/secret-box.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Tests: a SQLite file of their own (or ':memory:'). */
  sqliteFile?: string;
  /** Tests: a seeded generator for channel draws. */
  random?: Random;
  /** Tests: skip default process metrics (they are global to prom-client). */
  defaultMetrics?: boolean;
}

/**
 * One Switchyard node, wired: every part is built here with its dependencies, nothing else
 * happens here. `start()` migrates, bootstraps, syncs and listens; `stop()` drains and closes.
 */
export class Gateway {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Db;
  readonly sync: ConfigSync;
  readonly status: NodeStatus;
  /** The admin token printed on the very first start (undefined on every other start). */
  bootstrapAdminToken: string | undefined;

  private readonly server: http.Server;
  private readonly upstream: UpstreamClient;
  private readonly touches: TokenTouches;
  private readonly users: UserService;
  private readonly billing: BillingParts;
  private readonly checkpointer: SqliteCheckpointer | undefined;
  private readonly stateRepo: ConfigStateRepository;
  private readonly pollProbe: () => VersionProbe;
  private readonly loadHealth: () => Promise<void>;
  private readonly stats: UpstreamStats;
  private readonly channelTests: ChannelTestProcessor;
  private channelTestTimer: NodeJS.Timeout | undefined;
  private channelTestRound: Promise<unknown> | undefined;
  private readonly redisConnections: Redis[] = [];
  private jobs: JobRunner | undefined;
  private cluster: ClusterNode | undefined;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private stopping = false;

  constructor(
    private readonly config: Config,
    opts: GatewayOptions = {},
  ) {
    this.logger =
      opts.logger ??
      createLogger({ level: config.logLevel, pretty: config.logPretty, base: { node: config.nodeId } });
    this.metrics = new Metrics({ defaultMetrics: opts.defaultMetrics });
    this.db = createDb({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      sqliteFile: opts.sqliteFile,
      limits: config.dbLimits,
    });

    const sqliteFile = sqliteFileOf(this.db);
    this.checkpointer = sqliteFile
      ? new SqliteCheckpointer(sqliteFile, 1000, (err) =>
          this.logger.error({ err: { message: err.message } }, 'the SQLite checkpoint worker stopped'),
        )
      : undefined;
    const secret = config.secretKey ?? this.singleNodeSecret();
    const secrets = new SecretBox(secret);
    const stateRepo = (this.stateRepo = new ConfigStateRepository(this.db));
    const channelRepo = new ChannelRepository(this.db);
    const tokenRepo = new TokenRepository(this.db);
    const userRepo = new UserRepository(this.db);
    const accessRepo = new AccessTokenRepository(this.db);
    const priceRepo = new PriceRepository(this.db);
    const groupRepo = new GroupRepository(this.db);
    const usageRepo = new UsageLogRepository(this.db);

    const dbSource = new DbConfigSource(
      this.db,
      stateRepo,
      channelRepo,
      tokenRepo,
      userRepo,
      priceRepo,
      groupRepo,
    );
    const writer = new VersionedWriter(this.db, stateRepo, this.logger.child({ component: 'cfg-writer' }));
    const cluster = config.role === 'single' ? undefined : this.wireRedis(config);
    const healthShare = cluster
      ? new RedisHealthShare(
          cluster.command,
          config.redisPrefix,
          config.nodeId,
          this.logger.child({ component: 'channel-health' }),
        )
      : undefined;
    const channelHealth = new ChannelHealth(config.resilience.breaker, healthShare);
    this.metrics.watchChannelHealth(() => channelHealth.snapshot());
    this.loadHealth = () => healthShare?.load(channelHealth) ?? Promise.resolve();
    const stats = (this.stats = new UpstreamStats(
      this.metrics,
      cluster && {
        client: cluster.command,
        prefix: config.redisPrefix,
        logger: this.logger.child({ component: 'upstream-stats' }),
      },
    ));
    this.upstream = new UpstreamClient(config.upstream);
    const adapters = createAdapters();
    const decrypt = (enc: string) => {
      try {
        return secrets.decrypt(enc);
      } catch {
        throw new ConfigError(
          'SECRET_KEY does not decrypt the stored channel keys: start with the SECRET_KEY they were written with',
        );
      }
    };
    // The channel service shows each channel's health, and the health service re-enables channels.
    const channelService: ChannelService = new ChannelService(channelRepo, writer, secrets, {
      views: (ids) => healthService.views(ids),
      reset: (id) => channelHealth.reset(id),
    });
    const healthService: ChannelHealthService = new ChannelHealthService(
      channelService,
      new ChannelTestRepository(this.db),
      new ChannelTester(this.upstream, adapters, decrypt, {
        timeoutMs: config.resilience.channelTestTimeoutMs,
        autoDisableOn: config.resilience.autoDisableOn,
      }),
      stats,
      channelHealth,
      this.logger.child({ component: 'channel-tests' }),
    );
    const channelTests = (this.channelTests = new ChannelTestProcessor(
      channelService,
      healthService,
      this.logger.child({ component: 'job:channel-test' }),
    ));
    const billing = (this.billing = wireBilling({
      db: this.db,
      tokens: tokenRepo,
      users: userRepo,
      usage: usageRepo,
      prices: () => this.sync.prices,
      options: config.billing,
      metrics: this.metrics,
      logger: this.logger,
      redis: cluster && {
        client: cluster.command,
        prefix: config.redisPrefix,
        // NODE_ID has no commas (validated): the hold info is comma-separated.
        holder: `${config.nodeId}/${process.pid}`,
        ready: () => cluster.command.status === 'ready',
      },
    }));
    const source = cluster
      ? new LayeredConfigSource(cluster.l2, dbSource, this.logger.child({ component: 'cfg-l2' }))
      : dbSource;
    const identities = new IdentityCache(source, {
      ...config.tokenCache,
      // A change's version floor must outlive any stale L2 entry: the resync job heals L2 each interval.
      floorTtlMs: 2 * config.resyncEveryMs + 60_000,
    });
    const redisProbe = cluster ? new RedisVersionProbe(cluster.l2) : undefined;
    this.sync = new ConfigSync(
      source,
      redisProbe ?? dbSource,
      identities,
      decrypt,
      this.metrics,
      this.logger.child({ component: 'cfg-sync' }),
      {
        versionMissing: (state) => this.cluster?.redisLostItsState(state) ?? Promise.resolve(),
        applyLog: config.configApplyLog > 0 ? new ApplyLog(config.configApplyLog) : undefined,
      },
    );
    // Redis's version and the database's, so a change committed without a publish is seen
    // within CONFIG_POLL_MS too; the database alone while Redis is away.
    const newestProbe = redisProbe ? new NewestVersionProbe(redisProbe, dbSource) : undefined;
    this.pollProbe = () =>
      this.cluster && !this.cluster.isRedisReady ? dbSource : (newestProbe ?? dbSource);
    // In a cluster the master first publishes the change (L2, cfg:version, message), so the
    // replicas start applying it at once and its own apply below reads the entity from L2.
    if (cluster && config.role === 'master') {
      writer.addListener(
        new InvalidationPublisher(
          cluster.l2,
          config.nodeId,
          this.metrics,
          this.logger.child({ component: 'cfg-publisher' }),
        ),
      );
    }
    // Every node applies its own change right after commit (a master gets its own message
    // back later, as a duplicate).
    writer.addListener({ onCommitted: (change) => this.sync.notify(change) });
    if (cluster) {
      const clusterLogger = this.logger.child({ component: 'cluster' });
      const subscriber = new InvalidationSubscriber(
        cluster.subscriber,
        cluster.l2.keys.invalidate,
        {
          message: (m) => {
            const run =
              m.kind === 'beacon'
                ? this.sync.nudge({ epoch: m.epoch, version: m.v }, 'beacon')
                : this.sync.notify({
                    epoch: m.epoch,
                    version: m.v,
                    kind: m.kind,
                    entityId: m.id!,
                    op: m.op!,
                    at: m.at ?? 0,
                  });
            run.catch((err: unknown) =>
              clusterLogger.warn(
                { err: { message: (err as Error).message } },
                'could not apply a config message',
              ),
            );
          },
          health: (m) => channelHealth.apply(m),
          reconnected: () => {
            this.sync
              .resync('reconnect')
              .catch((err: unknown) =>
                clusterLogger.warn({ err: { message: (err as Error).message } }, 'resync failed'),
              );
          },
        },
        clusterLogger,
        healthShare!.channel,
      );
      const heartbeats = new NodeHeartbeats(
        cluster.command,
        cluster.l2,
        { nodeId: config.nodeId, role: config.role, startedAt: Date.now() },
        this.sync,
        () => subscriber.isConnected,
        config.heartbeatEveryMs,
        clusterLogger,
      );
      const resync = new ConfigResyncProcessor({
        state: stateRepo,
        channels: channelRepo,
        tokens: tokenRepo,
        users: userRepo,
        l2: cluster.l2,
        heartbeats,
        keepChanges: config.configLogKeep,
        logger: this.logger.child({ component: 'job:config-resync' }),
      });
      const usageFlush = new UsageFlushProcessor({
        store: billing.redisStore!,
        charges: billing.charges,
        heartbeats,
        holdTtlMs: config.billing.holdTtlMs,
        reconciler: new BalanceReconciler(
          billing.redisStore!,
          this.db,
          tokenRepo,
          userRepo,
          usageRepo,
          this.metrics,
          this.logger.child({ component: 'billing-reconcile' }),
        ),
        metrics: this.metrics,
        logger: this.logger.child({ component: 'job:usage-flush' }),
      });
      this.jobs = new JobRunner(
        { queue: cluster.bullQueue, newWorker: cluster.newBullConnection },
        config.redisPrefix,
        config.role as 'master' | 'slave',
        {
          resyncMs: config.resyncEveryMs,
          usageFlushMs: config.billing.usageFlushEveryMs,
          channelTestMs: config.resilience.channelTestEveryMs,
        },
        {
          resync,
          usageFlush,
          autoDisable: (job) => channelService.autoDisable(job.channelId, job.reason),
          channelTests,
        },
        this.logger.child({ component: 'jobs' }),
      );
      this.cluster = new ClusterNode(
        { nodeId: config.nodeId, role: config.role as 'master' | 'slave' },
        cluster.command,
        cluster.l2,
        this.sync,
        subscriber,
        heartbeats,
        this.jobs,
        this.metrics,
        clusterLogger,
      );
    }

    this.status = new NodeStatus(config.role, config.nodeId, Date.now(), this.sync, stateRepo, this.cluster);
    this.touches = new TokenTouches(tokenRepo, this.logger.child({ component: 'token-touches' }));
    this.users = new UserService(userRepo, accessRepo, writer, billing.balances);
    const relay = new RelayService(
      () => this.sync.routing,
      adapters,
      this.upstream,
      this.metrics,
      this.logger.child({ component: 'relay' }),
      {
        retryTimes: config.retryTimes,
        totalTimeoutMs: config.upstream.totalTimeoutMs,
        rateLimitCooldownMs: config.resilience.rateLimitCooldownMs,
        autoDisableOn: config.resilience.autoDisableOn,
        random: opts.random,
      },
      channelHealth,
      stats,
      new DedupingDisabler(
        (channelId, reason) =>
          config.role === 'slave'
            ? this.jobs!.requestAutoDisable({ channelId, reason })
            : channelService.autoDisable(channelId, reason),
        this.logger.child({ component: 'auto-disable' }),
      ),
    );

    const app = createHttpApp({
      logger: this.logger,
      metrics: this.metrics,
      status: this.status,
      adminAuth: new AdminAuthService(userRepo, accessRepo, config.adminToken),
      channels: channelService,
      channelHealth: healthService,
      tokens: new TokenService(tokenRepo, userRepo, writer, billing.balances),
      users: this.users,
      pricing: new PricingService(priceRepo, groupRepo, writer),
      usage: new UsageService(usageRepo),
      hits: billing.store,
      adminRateLimit: config.billing.adminRateLimit,
      trustProxy: config.trustProxy,
      role: config.role,
      masterUrl: config.masterUrl,
      queues: this.jobs ? [this.jobs.queue, this.jobs.billingQueue, this.jobs.masterQueue] : [],
    });
    const relayHandler = new RelayHttpHandler({
      auth: new RelayAuth(identities, this.touches),
      relay,
      billing: billing.service,
      routing: () => this.sync.routing,
      maxBodyBytes: config.maxBodyBytes,
      startedAt: Date.now(),
      ready: () => this.status.ready,
      trustProxy: config.trustProxy,
      logger: this.logger,
      metrics: this.metrics,
    });
    this.server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
      this.inFlight++;
      res.once('close', () => {
        if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
      if (this.stopping) res.setHeader('connection', 'close');
      if (relayHandler.handles(req)) relayHandler.handle(req, res);
      else app(req, res);
    });
  }

  /** Migrates, creates the root user on first start, listens, runs the first full sync. */
  async start(): Promise<AddressInfo> {
    await migrateLatest(this.db);
    this.checkpointer?.start();
    // Replicas never write config: the root user is the master's (or the single node's) to create.
    if (this.config.role !== 'slave') await this.bootstrap();
    if (this.cluster) await this.cluster.preflight(await this.stateRepo.read());
    const address = await new Promise<AddressInfo>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
    // Subscribed before the first snapshot, so no change can fall between the two.
    await this.cluster?.subscribe();
    await this.loadHealth().catch(() => {});
    await this.sync.start();
    this.sync.startPolling(this.config.configPollMs, this.pollProbe);
    await this.cluster?.start(address.port);
    this.touches.start();
    this.billing.start();
    this.stats.start();
    this.startChannelTests();
    this.logger.info(
      { port: address.port, host: address.address, role: this.status.role },
      'Switchyard is listening',
    );
    return address;
  }

  /** Graceful stop: refuse new work, let in-flight requests finish (bounded), close pools. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.status.markShuttingDown();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      const drained = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), this.config.shutdownTimeoutMs).unref(),
      );
      if ((await Promise.race([drained, timeout])) === 'timeout') {
        this.logger.warn({ inFlight: this.inFlight }, 'shutdown timeout: closing requests still in flight');
      }
    }
    this.server.closeAllConnections();
    await closed;
    this.sync.stop();
    // Settlements under way finish (in a cluster, onto the Redis stream) before Redis closes.
    await this.billing.stop();
    if (this.channelTestTimer) clearInterval(this.channelTestTimer);
    // A round under way gets a few seconds to finish before the pools close under it.
    if (this.channelTestRound)
      await Promise.race([
        this.channelTestRound,
        new Promise((resolve) => setTimeout(resolve, 5000).unref()),
      ]);
    await this.stats.stop();
    await this.cluster?.stop();
    await this.touches.stop();
    await this.upstream.close();
    for (const redis of this.redisConnections) redis.disconnect();
    await this.db.destroy();
    await this.checkpointer?.stop();
    this.logger.info('Switchyard stopped');
  }

  /** A single node runs the channel tests on a timer of its own (a cluster: the master's job). */
  private startChannelTests(): void {
    const every = this.config.resilience.channelTestEveryMs;
    if (this.config.role !== 'single' || every === 0) return;
    this.channelTestTimer = setInterval(() => {
      if (this.channelTestRound) return;
      this.channelTestRound = this.channelTests
        .run()
        .catch((err: unknown) =>
          this.logger.warn({ err: { message: (err as Error).message } }, 'channel tests failed'),
        )
        .finally(() => (this.channelTestRound = undefined));
    }, every);
    this.channelTestTimer.unref();
  }

  private async bootstrap(): Promise<void> {
    const root = await this.users.bootstrapRoot();
    if (root && !this.config.adminToken) {
      const issued = await this.users.issueAccessToken(root.id, 'bootstrap');
      this.bootstrapAdminToken = issued.token;
    }
  }

  /** The cluster's Redis connections and L2, made by the one Redis factory. */
  private wireRedis(config: Config) {
    const make = (role: RedisRole) => {
      const redis = createRedis(config.redisUrl!, {
        prefix: config.redisPrefix,
        nodeId: config.nodeId,
        role,
        logger: this.logger,
      });
      this.redisConnections.push(redis);
      return redis;
    };
    const command = make('command');
    return {
      command,
      subscriber: make('subscriber'),
      bullQueue: make('bullmq'),
      newBullConnection: () => make('bullmq'),
      l2: new L2Store(command, config.redisPrefix, config.cacheMaxTtlMs),
    };
  }

  private singleNodeSecret(): string {
    if (this.config.databaseUrl) {
      // Every node must decrypt what any node wrote: a generated per-node key cannot work.
      throw new ConfigError(
        'Set SECRET_KEY (16+ characters, the same on every node) when DATABASE_URL is set',
      );
    }
    const { secret, created, file } = loadOrCreateSecretKey(this.config.dataDir);
    if (created)
      this.logger.warn({ file }, 'SECRET_KEY is not set: generated one; keep this file with the database');
    return secret;
  }
}
