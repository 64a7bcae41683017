import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChannelHealth, HealthMessage, HealthShare } from '../routing/channel-health.js';

/**
 * Shares channel health (cooldowns, open breakers) through Redis: a key
 * `{prefix}:health:{channelId}:{model}` that expires with the cooldown or open breaker (read by
 * nodes that start later) and a message on `{prefix}:health` (applied at once by the running
 * ones). A closed breaker deletes its key; a channel's reset deletes all of its keys. Best effort: a lost message only costs a retry.
 */
export class RedisHealthShare implements HealthShare {
  readonly channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}:health`;
  }

  /** Shares one change; resolves once Redis has it (a failure is logged, never thrown). */
  publish(message: HealthMessage): Promise<void> {
    const key = `${this.prefix}:health:${message.channelId}:${message.model}`;
    const text = JSON.stringify({ ...message, node: this.nodeId });
    const sent =
      message.kind === 'reset'
        ? this.forgetChannel(message.channelId).then(() => this.redis.publish(this.channel, text))
        : (message.kind === 'close'
            ? this.redis.multi().del(key)
            : this.redis.multi().set(key, text, 'PX', Math.max(1, message.until - Date.now()))
          )
            .publish(this.channel, text)
            .exec();
    return sent.then(
      () => undefined,
      (err: unknown) =>
        this.logger.debug({ err: { message: (err as Error).message } }, 'channel health not shared'),
    );
  }

  private async forgetChannel(channelId: number): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.prefix}:health:${channelId}:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }

  /** Reads the cooldowns and open breakers in force (at start). */
  async load(into: ChannelHealth): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:health:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      for (const text of await this.redis.mget(...keys)) {
        const message = text ? decodeHealth(text) : undefined;
        if (message) into.apply(message);
      }
    } while (cursor !== '0');
  }
}

/** Decodes a health message; undefined when malformed. */
export function decodeHealth(text: string): HealthMessage | undefined {
  try {
    const m = JSON.parse(text) as Partial<HealthMessage>;
    if (
      Number.isSafeInteger(m.channelId) &&
      typeof m.model === 'string' &&
      (m.kind === 'cool' || m.kind === 'open' || m.kind === 'close' || m.kind === 'reset') &&
      typeof m.until === 'number' &&
      typeof m.at === 'number'
    ) {
      return {
        channelId: m.channelId!,
        model: m.model,
        kind: m.kind,
        until: m.until,
        at: m.at,
        ...(typeof m.reason === 'string' ? { reason: m.reason } : {}),
      };
    }
  } catch {
    // fall through
  }
  return undefined;
}
