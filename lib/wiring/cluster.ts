import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigResyncProcessor } from '../../jobs/config-resync.processor.js';
import type { ChannelTestProcessor } from '../../jobs/channel-test.processor.js';
import { JobRunner, type AutoDisableJob } from '../../jobs/job-runner.js';
import { UsageFlushProcessor } from '../../jobs/usage-flush.processor.js';
import { BalanceReconciler } from '../billing/balance-reconciler.js';
import type { BillingParts } from '../billing/billing-wiring.js';
import { ClusterNode } from '../cfg/cluster-node.js';
import type { ConfigSync } from '../cfg/config-sync.js';
import { InvalidationSubscriber } from '../cfg/invalidation-subscriber.js';
import { L2Store } from '../cfg/l2-store.js';
import { NodeHeartbeats } from '../cfg/node-heartbeat.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/knex.js';
import type { Metrics } from '../obs/metrics.js';
import { createRedis, type RedisRole } from '../redis/redis-client.js';
import type { ChannelHealth } from '../routing/channel-health.js';
import type { Repositories } from './storage.js';
import type { Component } from './lifecycle.js';

/** A cluster node's Redis connections (made by the one Redis factory) and L2. */
export interface RedisParts {
  command: Redis;
  subscriber: Redis;
  bullQueue: Redis;
  newBullConnection: () => Redis;
  l2: L2Store;
  /** Disconnects every connection made here (stopped after everything that uses Redis). */
  component: Component;
}

export function wireRedis(config: Config, logger: Logger): RedisParts {
  const connections: Redis[] = [];
  const make = (role: RedisRole) => {
    const redis = createRedis(config.redisUrl!, {
      prefix: config.redisPrefix,
      nodeId: config.nodeId,
      role,
      logger,
    });
    connections.push(redis);
    return redis;
  };
  const command = make('command');
  return {
    command,
    subscriber: make('subscriber'),
    bullQueue: make('bullmq'),
    newBullConnection: () => make('bullmq'),
    l2: new L2Store(command, config.redisPrefix, config.cacheMaxTtlMs),
    component: {
      name: 'redis',
      stop() {
        for (const redis of connections) redis.disconnect();
      },
    },
  };
}

export interface ClusterParts {
  node: ClusterNode;
  jobs: JobRunner;
  heartbeats: NodeHeartbeats;
}

/**
 * The cluster's side of a node: the invalidation subscriber (config messages, beacons, health),
 * heartbeats, the BullMQ jobs (resync, usage flush, channel tests, auto-disable requests) and
 * the node that ties them to the sync.
 */
export function wireCluster(deps: {
  config: Config;
  redis: RedisParts;
  db: Db;
  repos: Repositories;
  sync: ConfigSync;
  channelHealth: ChannelHealth;
  healthChannel: string;
  billing: BillingParts;
  channelTests: ChannelTestProcessor;
  autoDisable: (job: AutoDisableJob) => Promise<boolean>;
  metrics: Metrics;
  logger: Logger;
}): ClusterParts {
  const { config, redis, repos, sync, logger } = deps;
  const clusterLogger = logger.child({ component: 'cluster' });
  const warn = (what: string) => (err: unknown) =>
    clusterLogger.warn({ err: { message: (err as Error).message } }, what);
  const subscriber = new InvalidationSubscriber(
    redis.subscriber,
    redis.l2.keys.invalidate,
    {
      message: (m) => {
        const run =
          m.kind === 'beacon'
            ? sync.nudge({ epoch: m.epoch, version: m.v }, 'beacon')
            : sync.notify({
                epoch: m.epoch,
                version: m.v,
                kind: m.kind,
                entityId: m.id!,
                op: m.op!,
                at: m.at ?? 0,
              });
        run.catch(warn('could not apply a config message'));
      },
      health: (m) => deps.channelHealth.apply(m),
      reconnected: () => {
        sync.resync('reconnect').catch(warn('resync failed'));
      },
    },
    clusterLogger,
    deps.healthChannel,
  );
  const heartbeats = new NodeHeartbeats(
    redis.command,
    redis.l2,
    { nodeId: config.nodeId, role: config.role, startedAt: Date.now() },
    sync,
    () => subscriber.isConnected,
    config.heartbeatEveryMs,
    clusterLogger,
  );
  const role = config.role as 'master' | 'slave';
  const jobs = new JobRunner(
    { queue: redis.bullQueue, newWorker: redis.newBullConnection },
    config.redisPrefix,
    role,
    {
      resyncMs: config.resyncEveryMs,
      usageFlushMs: config.billing.usageFlushEveryMs,
      channelTestMs: config.resilience.channelTestEveryMs,
    },
    {
      resync: new ConfigResyncProcessor({
        state: repos.state,
        channels: repos.channels,
        tokens: repos.tokens,
        users: repos.users,
        l2: redis.l2,
        heartbeats,
        keepChanges: config.configLogKeep,
        logger: logger.child({ component: 'job:config-resync' }),
      }),
      usageFlush: new UsageFlushProcessor({
        store: deps.billing.redisStore!,
        charges: deps.billing.charges,
        heartbeats,
        holdTtlMs: config.billing.holdTtlMs,
        reconciler: new BalanceReconciler(
          deps.billing.redisStore!,
          deps.db,
          repos.tokens,
          repos.users,
          repos.usage,
          deps.metrics,
          logger.child({ component: 'billing-reconcile' }),
        ),
        metrics: deps.metrics,
        logger: logger.child({ component: 'job:usage-flush' }),
      }),
      autoDisable: deps.autoDisable,
      channelTests: deps.channelTests,
    },
    logger.child({ component: 'jobs' }),
  );
  const node = new ClusterNode(
    { nodeId: config.nodeId, role },
    redis.command,
    redis.l2,
    sync,
    subscriber,
    heartbeats,
    jobs,
    deps.metrics,
    clusterLogger,
  );
  return { node, jobs, heartbeats };
}
