import type { Logger } from 'pino';
import type { ChannelService } from '../admin/channel.service.js';
import type { BillingService } from '../billing/billing.service.js';
import type { IdentityCache } from '../cfg/identity-cache.js';
import type { RoutingIndex } from '../cfg/routing-index.js';
import type { Config } from '../config/config.js';
import { RelayHttpHandler } from '../http/relay-handler.js';
import type { Metrics } from '../obs/metrics.js';
import { createAdapters, type AdapterRegistry } from '../relay/adapters/index.js';
import { DedupingDisabler } from '../relay/channel-disabler.js';
import { CountTokensService } from '../relay/count-tokens.service.js';
import { createIngressFormats } from '../relay/ingress/index.js';
import { RelayAuth } from '../relay/relay-auth.js';
import { AttemptRunner } from '../relay/attempt-runner.js';
import { RelayService } from '../relay/relay.service.js';
import { TokenTouches } from '../relay/token-touches.js';
import { UpstreamCaller } from '../relay/upstream-call.js';
import { UpstreamClient } from '../relay/upstream-client.js';
import { UpstreamPolicy } from '../relay/upstream-policy.js';
import type { UpstreamStats } from '../relay/upstream-stats.js';
import type { ChannelHealth } from '../routing/channel-health.js';
import type { Random } from '../routing/channel-selector.js';
import type { Component } from './lifecycle.js';
import type { Repositories } from './storage.js';

/** The upstream side: the keep-alive client, the adapters, and the calls both the relay and channel tests make. */
export interface UpstreamParts {
  client: UpstreamClient;
  /** Which addresses upstream calls may reach; told the gateway's own port once it listens. */
  policy: UpstreamPolicy;
  adapters: AdapterRegistry;
  calls: UpstreamCaller;
  /** Closes the connection pools (after every request and channel test ended). */
  component: Component;
}

export function wireUpstream(config: Config): UpstreamParts {
  const policy = new UpstreamPolicy({
    denyPrivate: config.upstream.denyPrivate,
    allow: config.upstream.allow,
  });
  const client = new UpstreamClient(config.upstream, policy);
  return {
    client,
    policy,
    adapters: createAdapters(),
    calls: new UpstreamCaller(client, config.upstream.totalTimeoutMs),
    component: { name: 'upstream', stop: () => client.close() },
  };
}

export interface RelayParts {
  handler: RelayHttpHandler;
  /** Batches token "last used" writes. */
  touches: TokenTouches;
}

/** The `/v1` surface: authentication, the failover loop, the wire formats, billing. */
export function wireRelay(deps: {
  config: Config;
  upstream: UpstreamParts;
  repos: Repositories;
  identities: IdentityCache;
  routing: () => RoutingIndex;
  channelHealth: ChannelHealth;
  stats: UpstreamStats;
  billing: BillingService;
  channels: ChannelService;
  /** A replica asks the master to disable a channel; the master (or a single node) does it. */
  requestAutoDisable?: (channelId: number, reason: string) => Promise<void>;
  ready: () => boolean;
  random?: Random;
  metrics: Metrics;
  logger: Logger;
}): RelayParts {
  const { config, logger } = deps;
  const touches = new TokenTouches(deps.repos.tokens, logger.child({ component: 'token-touches' }));
  const relay = new RelayService(
    deps.routing,
    deps.upstream.adapters,
    new AttemptRunner(
      deps.upstream.adapters,
      deps.upstream.calls,
      config.resilience.autoDisableOn,
      config.upstream.totalTimeoutMs,
    ),
    deps.metrics,
    logger.child({ component: 'relay' }),
    {
      retryTimes: config.retryTimes,
      totalTimeoutMs: config.upstream.totalTimeoutMs,
      rateLimitCooldownMs: config.resilience.rateLimitCooldownMs,
      random: deps.random,
    },
    deps.channelHealth,
    deps.stats,
    new DedupingDisabler(
      deps.requestAutoDisable ?? ((channelId, reason) => deps.channels.autoDisable(channelId, reason)),
      logger.child({ component: 'auto-disable' }),
    ),
  );
  const handler = new RelayHttpHandler({
    auth: new RelayAuth(deps.identities, touches),
    ingress: createIngressFormats(),
    relay,
    countTokens: new CountTokensService(
      deps.routing,
      deps.upstream.adapters,
      deps.upstream.calls,
      config.resilience.autoDisableOn,
      config.upstream.totalTimeoutMs,
    ),
    billing: deps.billing,
    routing: deps.routing,
    maxBodyBytes: config.maxBodyBytes,
    maxJsonDepth: config.http.maxJsonDepth,
    corsOrigins: config.http.corsOrigins,
    startedAt: Date.now(),
    ready: deps.ready,
    trustProxy: config.trustProxy,
    logger,
    metrics: deps.metrics,
  });
  return { handler, touches };
}
