import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AdminAuthService } from './admin/admin-auth.service.js';
import { ChannelService } from './admin/channel.service.js';
import { TokenService } from './admin/token.service.js';
import { UserService } from './admin/user.service.js';
import { QuotaLedger } from './billing/quota-ledger.js';
import { ConfigSync } from './cfg/config-sync.js';
import { DbConfigSource } from './cfg/db-config-source.js';
import { IdentityCache } from './cfg/identity-cache.js';
import { NodeStatus } from './cfg/node-status.js';
import { VersionedWriter } from './cfg/versioned-writer.js';
import type { Config } from './config/config.js';
import { ConfigError } from './errors/config.error.js';
import { createDb, migrateLatest, type Db } from './db/knex.js';
import { AccessTokenRepository } from './db/repositories/access-token.repository.js';
import { ChannelRepository } from './db/repositories/channel.repository.js';
import { ConfigStateRepository } from './db/repositories/config-state.repository.js';
import { TokenRepository } from './db/repositories/token.repository.js';
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
  private readonly quota: QuotaLedger;
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
    });

    const secret = config.secretKey ?? this.singleNodeSecret();
    const secrets = new SecretBox(secret);
    const stateRepo = new ConfigStateRepository(this.db);
    const channelRepo = new ChannelRepository(this.db);
    const tokenRepo = new TokenRepository(this.db);
    const userRepo = new UserRepository(this.db);
    const accessRepo = new AccessTokenRepository(this.db);

    const source = new DbConfigSource(this.db, stateRepo, channelRepo, tokenRepo, userRepo);
    const identities = new IdentityCache(source, config.tokenCache);
    const quota = (this.quota = new QuotaLedger(tokenRepo, this.logger.child({ component: 'quota' })));
    this.sync = new ConfigSync(
      source,
      identities,
      (enc) => secrets.decrypt(enc),
      this.metrics,
      this.logger.child({ component: 'cfg-sync' }),
      (tokenId) => quota.invalidate(tokenId),
    );
    const writer = new VersionedWriter(this.db, stateRepo, this.logger.child({ component: 'cfg-writer' }));
    // A single node applies its own change right after commit: no polling, no restart.
    writer.addListener({ onCommitted: (change) => this.sync.notify(change) });

    this.status = new NodeStatus('single', config.nodeId, Date.now(), this.sync, stateRepo);
    this.upstream = new UpstreamClient(config.upstream);
    this.touches = new TokenTouches(tokenRepo, this.logger.child({ component: 'token-touches' }));
    this.users = new UserService(userRepo, accessRepo, writer);
    const relay = new RelayService(
      () => this.sync.routing,
      createAdapters(),
      this.upstream,
      quota,
      this.metrics,
      this.logger.child({ component: 'relay' }),
      { retryTimes: config.retryTimes, random: opts.random },
    );

    const app = createHttpApp({
      logger: this.logger,
      metrics: this.metrics,
      status: this.status,
      adminAuth: new AdminAuthService(userRepo, accessRepo, config.adminToken),
      channels: new ChannelService(channelRepo, writer, secrets),
      tokens: new TokenService(tokenRepo, userRepo, writer),
      users: this.users,
      trustProxy: config.trustProxy,
    });
    const relayHandler = new RelayHttpHandler({
      auth: new RelayAuth(identities, this.touches),
      relay,
      quota,
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
    await this.bootstrap();
    const address = await new Promise<AddressInfo>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
    await this.sync.start();
    this.sync.startPolling(this.config.configPollMs);
    this.touches.start();
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
    await this.touches.stop();
    await this.quota.stop();
    await this.upstream.close();
    await this.db.destroy();
    this.logger.info('Switchyard stopped');
  }

  private async bootstrap(): Promise<void> {
    const root = await this.users.bootstrapRoot();
    if (root && !this.config.adminToken) {
      const issued = await this.users.issueAccessToken(root.id, 'bootstrap');
      this.bootstrapAdminToken = issued.token;
    }
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
