import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HealthMessage } from '../routing/channel-health.js';
import { decodeHealth } from './health-share.js';
import type { InvalidationMessage } from './l2-store.js';

const CONFIG_KINDS = new Set<string>(['channel', 'token', 'user', 'price', 'group']);

export interface SubscriberHandlers {
  message(message: InvalidationMessage): void;
  /** A channel health change published by some node (on the health channel, when one is given). */
  health?(message: HealthMessage): void;
  /** The subscription was (re)established after having been down: messages may have been lost. */
  reconnected(): void;
}

/**
 * Listens on `{prefix}:cfg:invalidate` (and `{prefix}:health`) with a dedicated connection.
 * It only decodes, filters and hands on; what a message means is decided in {@link ConfigSync}
 * and in the channel health.
 */
export class InvalidationSubscriber {
  private subscribedOnce = false;
  private connected = false;

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly handlers: SubscriberHandlers,
    private readonly logger: Logger,
    private readonly healthChannel?: string,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  async start(): Promise<void> {
    this.redis.on('message', (channel: string, text: string) => {
      if (channel === this.healthChannel) {
        const health = decodeHealth(text);
        if (health) this.handlers.health?.(health);
        return;
      }
      if (channel !== this.channel) return;
      const message = decode(text);
      if (message) this.handlers.message(message);
      else this.logger.warn({ length: text.length }, 'ignored a malformed invalidation message');
    });
    this.redis.on('close', () => {
      this.connected = false;
    });
    // ioredis re-subscribes by itself on reconnect; each 'ready' after the first is a gap.
    this.redis.on('ready', () => {
      this.connected = true;
      if (this.subscribedOnce) this.handlers.reconnected();
    });
    await this.redis.subscribe(...(this.healthChannel ? [this.channel, this.healthChannel] : [this.channel]));
    this.subscribedOnce = true;
    this.connected = true;
  }

  async stop(): Promise<void> {
    this.redis.removeAllListeners('message');
    this.redis.disconnect();
  }
}

function decode(text: string): InvalidationMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = m as Partial<InvalidationMessage>;
  if (typeof o !== 'object' || o === null) return undefined;
  if (typeof o.epoch !== 'string' || typeof o.v !== 'number' || !Number.isSafeInteger(o.v)) return undefined;
  if (o.kind === 'beacon') return { epoch: o.epoch, v: o.v, kind: 'beacon' };
  if (!o.kind || !CONFIG_KINDS.has(o.kind)) return undefined;
  if (typeof o.id !== 'string' || (o.op !== 'upsert' && o.op !== 'delete')) return undefined;
  return {
    epoch: o.epoch,
    v: o.v,
    kind: o.kind,
    id: o.id,
    op: o.op,
    node: o.node,
    at: typeof o.at === 'number' ? o.at : undefined,
  };
}
