import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ChannelTestProcessor } from '../../jobs/channel-test.processor.js';
import { AdminAuthService } from '../admin/admin-auth.service.js';
import { ChannelHealthService } from '../admin/channel-health.service.js';
import { ChannelService } from '../admin/channel.service.js';
import { PricingService } from '../admin/pricing.service.js';
import { TokenService } from '../admin/token.service.js';
import { UsageService } from '../admin/usage.service.js';
import { UserService } from '../admin/user.service.js';
import { LoginService } from '../auth/login.service.js';
import {
  FailoverAttemptStore,
  LoginThrottle,
  MemoryAttemptStore,
  RedisAttemptStore,
} from '../auth/login-throttle.js';
import { SessionService } from '../auth/session.service.js';
import type { BillingParts } from '../billing/billing-wiring.js';
import type { NodeStatus } from '../cfg/node-status.js';
import type { Config } from '../config/config.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import { createHttpApp } from '../http/http-app.js';
import { createLimitedServer } from '../http/server-limits.js';
import type { RelayHttpHandler } from '../http/relay-handler.js';
import type { Metrics } from '../obs/metrics.js';
import { ChannelTester } from '../relay/channel-tester.js';
import type { UpstreamStats } from '../relay/upstream-stats.js';
import type { ChannelHealth } from '../routing/channel-health.js';
import { PasswordHasher } from '../security/passwords.js';
import type { Component } from './lifecycle.js';
import type { UpstreamParts } from './relay.js';
import type { StorageParts } from './storage.js';

/** How long a stop waits for relays cut off at the shutdown timeout to wind down and settle. */
const RELAY_WIND_DOWN_MS = 3000;

export interface AdminParts {
  adminAuth: AdminAuthService;
  channels: ChannelService;
  channelHealth: ChannelHealthService;
  channelTests: ChannelTestProcessor;
  tokens: TokenService;
  users: UserService;
  pricing: PricingService;
  usage: UsageService;
  sessions: SessionService;
  login: LoginService;
}

/** The admin services: every config write goes through the versioned writer. */
export function wireAdmin(deps: {
  config: Config;
  storage: StorageParts;
  upstream: UpstreamParts;
  billing: BillingParts;
  channelHealth: ChannelHealth;
  stats: UpstreamStats;
  /** Cluster: failed sign-in attempts are counted in Redis, shared by every node. */
  redis?: Redis;
  logger: Logger;
}): AdminParts {
  const { config, storage, logger } = deps;
  const { repos, writer } = storage;
  const channels = new ChannelService(repos.channels, writer, storage.secrets, deps.upstream.adapters);
  const channelHealth = new ChannelHealthService(
    channels,
    repos.channelTests,
    new ChannelTester(deps.upstream.client, deps.upstream.calls, deps.upstream.adapters, storage.decrypt, {
      timeoutMs: config.resilience.channelTestTimeoutMs,
      autoDisableOn: config.resilience.autoDisableOn,
    }),
    deps.stats,
    deps.channelHealth,
    logger.child({ component: 'channel-tests' }),
  );
  // The channel service shows each channel's health; the health service re-enables channels.
  channels.attachHealth({
    views: (ids) => channelHealth.views(ids),
    reset: (id) => deps.channelHealth.reset(id),
  });
  const passwords = new PasswordHasher(config.console.passwordMinLength);
  const sessions = new SessionService(repos.sessions, repos.users, {
    idleMs: config.console.sessionIdleMs,
    maxAgeMs: config.console.sessionMaxAgeMs,
  });
  const redis = deps.redis;
  const attempts = redis
    ? new FailoverAttemptStore(
        new RedisAttemptStore(redis, config.redisPrefix),
        new MemoryAttemptStore(),
        () => redis.status === 'ready',
      )
    : new MemoryAttemptStore();
  const adminAuth = new AdminAuthService(repos.users, repos.accessTokens, config.adminToken);
  return {
    adminAuth,
    channels,
    channelHealth,
    channelTests: new ChannelTestProcessor(
      channels,
      channelHealth,
      logger.child({ component: 'job:channel-test' }),
    ),
    tokens: new TokenService(repos.tokens, repos.users, writer, deps.billing.balances),
    users: new UserService(
      repos.users,
      repos.accessTokens,
      writer,
      deps.billing.balances,
      passwords,
      sessions,
    ),
    pricing: new PricingService(repos.prices, repos.groups, writer),
    usage: new UsageService(repos.usage, repos.usageRollup, repos.channels, repos.tokens),
    sessions,
    login: new LoginService(
      repos.users,
      adminAuth,
      passwords,
      sessions,
      new LoginThrottle(attempts, config.console.loginMaxAttempts, config.console.loginWindowMs),
    ),
  };
}

/**
 * The HTTP server: `/v1` to the relay handler, everything else to the express app. Two
 * components: `http` listens (and at stop closes what is left), `drain` (registered last, so
 * stopped first) refuses new work and lets requests in flight finish, bounded by `shutdownTimeoutMs`.
 */
export class HttpServer {
  readonly server: http.Server;
  address: AddressInfo | undefined;
  private inFlight = 0;
  /** The relay's requests whose work has not ended. */
  private readonly relaying = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private stopping = false;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    deps: {
      admin: AdminParts;
      userRecords: UserRepository;
      relay: RelayHttpHandler;
      status: NodeStatus;
      billing: BillingParts;
      queues: Queue[];
      /** The built web console's folder (default: web/dist in the package). */
      consoleDir?: string;
      metrics: Metrics;
      logger: Logger;
    },
    private readonly logger: Logger,
  ) {
    const { admin } = deps;
    const app = createHttpApp({
      logger: deps.logger,
      metrics: deps.metrics,
      status: deps.status,
      adminAuth: admin.adminAuth,
      sessions: admin.sessions,
      login: admin.login,
      userRecords: deps.userRecords,
      channels: admin.channels,
      channelHealth: admin.channelHealth,
      tokens: admin.tokens,
      users: admin.users,
      pricing: admin.pricing,
      usage: admin.usage,
      hits: deps.billing.store,
      adminRateLimit: config.billing.adminRateLimit,
      maxBodyBytes: config.http.maxAdminBodyBytes,
      maxJsonDepth: config.http.maxJsonDepth,
      metricsToken: config.http.metricsToken,
      trustProxy: config.trustProxy,
      role: config.role,
      masterUrl: config.masterUrl,
      queues: deps.queues,
      consoleDir: deps.consoleDir,
    });
    const relay = deps.relay;
    this.server = createLimitedServer(config.http, deps.metrics, (req, res) => {
      this.inFlight++;
      res.once('close', () => {
        if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
      if (this.stopping) res.setHeader('connection', 'close');
      if (relay.handles(req)) {
        // Tracked until its work ends (its settlement has started by then), not only its socket.
        const work = relay.handle(req, res);
        this.relaying.add(work);
        void work.finally(() => this.relaying.delete(work));
      } else app(req, res);
    });
  }

  /** Listens on PORT/HOST; closes whatever is still open at stop. */
  readonly listener: Component = {
    name: 'http',
    start: async () => {
      this.address = await new Promise<AddressInfo>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.config.port, this.config.host, () => {
          this.server.off('error', reject);
          resolve(this.server.address() as AddressInfo);
        });
      });
    },
    stop: async () => {
      this.closed ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await this.closed;
    },
  };

  /** Stopped first: no new requests, those in flight finish (bounded). */
  readonly drain: Component = {
    name: 'drain',
    stop: async () => {
      this.stopping = true;
      this.closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      if (this.inFlight > 0) await this.waitForIdle();
      this.server.closeAllConnections();
      // Requests cut off above end their relay (an aborted upstream call) and start settling what
      // reached their clients; billing, stopped next, waits for those settlements.
      if (this.relaying.size > 0)
        await Promise.race([
          Promise.allSettled([...this.relaying]),
          new Promise((resolve) => setTimeout(resolve, RELAY_WIND_DOWN_MS).unref()),
        ]);
      await this.closed;
    },
  };

  private async waitForIdle(): Promise<void> {
    const drained = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.config.shutdownTimeoutMs).unref(),
    );
    if ((await Promise.race([drained, timeout])) === 'timeout')
      this.logger.warn({ inFlight: this.inFlight }, 'shutdown timeout: closing requests still in flight');
  }
}
