import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CooldownShare, Cooldowns } from '../routing/cooldowns.js';

/** A cooldown as published on `{prefix}:cooldown`. */
export interface CooldownMessage {
  channelId: number;
  until: number;
  reason?: string;
  node?: string;
}

/**
 * Shares cooldowns through Redis: a key `{prefix}:cooldown:channel:{id}` that expires with the
 * cooldown (read by nodes that start later) and a message on `{prefix}:cooldown` (applied at
 * once by the running ones). Best effort: a lost cooldown only costs a retry elsewhere.
 */
export class RedisCooldownShare implements CooldownShare {
  readonly channel: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}:cooldown`;
  }

  publish(channelId: number, until: number, reason: string): void {
    const ms = Math.max(1, until - Date.now());
    const message: CooldownMessage = { channelId, until, reason, node: this.nodeId };
    this.redis
      .multi()
      .set(`${this.prefix}:cooldown:channel:${channelId}`, String(until), 'PX', ms)
      .publish(this.channel, JSON.stringify(message))
      .exec()
      .catch((err: unknown) =>
        this.logger.debug({ err: { message: (err as Error).message } }, 'cooldown not shared'),
      );
  }

  /** Reads the cooldowns in force (at start). */
  async load(into: Cooldowns): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.prefix}:cooldown:channel:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (keys.length === 0) continue;
      const values = await this.redis.mget(...keys);
      keys.forEach((key, i) => {
        const until = Number(values[i]);
        if (Number.isFinite(until)) into.apply(Number(key.slice(key.lastIndexOf(':') + 1)), until);
      });
    } while (cursor !== '0');
  }
}

/** Decodes a cooldown message; undefined when malformed. */
export function decodeCooldown(text: string): CooldownMessage | undefined {
  try {
    const m = JSON.parse(text) as Partial<CooldownMessage>;
    if (Number.isSafeInteger(m.channelId) && typeof m.until === 'number')
      return { channelId: m.channelId!, until: m.until };
  } catch {
    // fall through
  }
  return undefined;
}
