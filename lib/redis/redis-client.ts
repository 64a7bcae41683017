import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * What each connection is for. `command` serves the hot path and must fail fast when Redis is
 * away (no offline queue: callers fall back to the database); `subscriber` holds the pub/sub
 * subscription; `bullmq` connections wait forever, as BullMQ requires.
 */
export type RedisRole = 'command' | 'subscriber' | 'bullmq';

/**
 * The one factory for Redis connections: retry strategy, timeouts, connection names (visible in
 * `CLIENT LIST` as `{prefix}:{nodeId}:{role}`) and error listeners, so that a Redis outage is
 * logged once per connection state change rather than per command.
 */
export function createRedis(
  url: string,
  opts: { prefix: string; nodeId: string; role: RedisRole; logger: Logger },
): Redis {
  const base: RedisOptions = {
    connectionName: `${opts.prefix}:${opts.nodeId}:${opts.role}`,
    // Reconnect quickly at first, then every 2 s at most, forever: nodes heal themselves.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    connectTimeout: 2000,
    lazyConnect: false,
  };
  const role: RedisOptions =
    opts.role === 'command'
      ? {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: 1000,
          // A command unanswered when the connection dropped has failed for its caller (who fell
          // back to the database); sent again to the Redis that answers next (restarted empty)
          // it would only run late: a settle the node already took to the database charged twice.
          autoResendUnfulfilledCommands: false,
        }
      : opts.role === 'subscriber'
        ? { enableOfflineQueue: true, maxRetriesPerRequest: null }
        : { enableOfflineQueue: true, maxRetriesPerRequest: null };
  const redis = new Redis(url, { ...base, ...role });
  const log = opts.logger.child({ component: 'redis', connection: opts.role });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down)
      log.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        'redis connection error',
      );
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  return redis;
}
