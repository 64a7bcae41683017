/** Where a cooldown set on this node is shared with the others (Redis in a cluster). */
export interface CooldownShare {
  publish(channelId: number, until: number, reason: string): void;
}

/**
 * Channels cooling down after a failure that says "not now" (a 429, a refused key): routing
 * skips them while any other channel can serve. Each node keeps the set in memory, so the
 * check costs no I/O; in a cluster every cooldown is also published, and the other nodes add it
 * to theirs.
 */
export class Cooldowns {
  private readonly until = new Map<number, number>();

  constructor(private readonly share?: CooldownShare) {}

  isCooling(channelId: number, now = Date.now()): boolean {
    const until = this.until.get(channelId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(channelId);
    return false;
  }

  /** Cools a channel for `ms` here and on every node. */
  cool(channelId: number, ms: number, reason: string): void {
    const until = Date.now() + ms;
    this.apply(channelId, until);
    this.share?.publish(channelId, until, reason);
  }

  /** A cooldown learned from another node (or read at start). */
  apply(channelId: number, until: number): void {
    if (until > (this.until.get(channelId) ?? 0)) this.until.set(channelId, until);
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds; undefined when absent or bad. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text.trim())) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
