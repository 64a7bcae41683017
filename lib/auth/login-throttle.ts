import type { Redis } from 'ioredis';

/** Counts failed sign-in attempts per key (an IP, a username) in a fixed window. */
export interface AttemptStore {
  /** How long until `key` may try again (0: it may now), given at most `max` failures a window. */
  wait(key: string, max: number): Promise<number>;
  /** Counts one failure of `key`; the first failure of a window starts it. */
  fail(key: string, windowMs: number): Promise<void>;
  clear(key: string): Promise<void>;
}

/** One node's counts in memory (a single node; a cluster node while Redis is away). */
export class MemoryAttemptStore implements AttemptStore {
  private readonly counts = new Map<string, { n: number; until: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  async wait(key: string, max: number): Promise<number> {
    const c = this.live(key);
    return c && c.n >= max ? c.until - this.clock() : 0;
  }

  async fail(key: string, windowMs: number): Promise<void> {
    const c = this.live(key);
    if (c) c.n++;
    else {
      if (this.counts.size > 100_000) this.sweep();
      this.counts.set(key, { n: 1, until: this.clock() + windowMs });
    }
  }

  async clear(key: string): Promise<void> {
    this.counts.delete(key);
  }

  private live(key: string) {
    const c = this.counts.get(key);
    if (c && c.until <= this.clock()) {
      this.counts.delete(key);
      return undefined;
    }
    return c;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, c] of this.counts) if (c.until <= now) this.counts.delete(k);
  }
}

/** Increments a window's count; the first increment sets its expiry. */
const FAIL = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** The cluster's counts in Redis (`{prefix}:login:{key}`), so every node refuses the same guesser. */
export class RedisAttemptStore implements AttemptStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async wait(key: string, max: number): Promise<number> {
    const k = this.key(key);
    const [[, n], [, ttl]] = (await this.redis.multi().get(k).pttl(k).exec()) as [
      [unknown, string | null],
      [unknown, number],
    ];
    return Number(n ?? 0) >= max && ttl > 0 ? ttl : 0;
  }

  async fail(key: string, windowMs: number): Promise<void> {
    await this.redis.eval(FAIL, 1, this.key(key), windowMs);
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }

  private key(key: string): string {
    return `${this.prefix}:login:${key}`;
  }
}

/** Redis while it answers, this node's memory otherwise: sign-in must work during a Redis outage. */
export class FailoverAttemptStore implements AttemptStore {
  constructor(
    private readonly redis: AttemptStore,
    private readonly local: AttemptStore,
    private readonly ready: () => boolean,
  ) {}

  async wait(key: string, max: number): Promise<number> {
    const local = await this.local.wait(key, max);
    if (!this.ready()) return local;
    try {
      return Math.max(local, await this.redis.wait(key, max));
    } catch {
      return local;
    }
  }

  async fail(key: string, windowMs: number): Promise<void> {
    if (this.ready()) {
      try {
        return await this.redis.fail(key, windowMs);
      } catch {
        // counted locally below
      }
    }
    await this.local.fail(key, windowMs);
  }

  async clear(key: string): Promise<void> {
    await this.local.clear(key);
    if (this.ready()) await this.redis.clear(key).catch(() => {});
  }
}

/**
 * Limits failed sign-ins: at most `max` per client IP and per username within `windowMs`; past
 * that every attempt of that IP or username is refused (without checking the password) until
 * the window ends. A success clears the username's count.
 */
export class LoginThrottle {
  constructor(
    private readonly store: AttemptStore,
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds to wait before trying again; 0 when the attempt may go ahead. */
  async wait(ip: string, username: string | undefined): Promise<number> {
    const waits = await Promise.all(this.keys(ip, username).map((k) => this.store.wait(k, this.max)));
    return Math.max(0, ...waits);
  }

  async failed(ip: string, username: string | undefined): Promise<void> {
    await Promise.all(this.keys(ip, username).map((k) => this.store.fail(k, this.windowMs)));
  }

  async succeeded(username: string | undefined): Promise<void> {
    if (username !== undefined) await this.store.clear(userKey(username));
  }

  private keys(ip: string, username: string | undefined): string[] {
    return username === undefined ? [`ip:${ip}`] : [`ip:${ip}`, userKey(username)];
  }
}

const userKey = (username: string) => `user:${username.toLowerCase()}`;
