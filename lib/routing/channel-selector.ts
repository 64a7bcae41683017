import type { RoutedChannel, Tier } from '../cfg/routing-index.js';

/** A source of uniform numbers in [0, 1); `Math.random` in production, seeded in tests. */
export type Random = () => number;

/** What routing asks of channel health for one request's model. */
export interface HealthView {
  /** Cooling down or behind an open breaker: passed over while another channel can serve. */
  blocked(channelId: number): boolean;
  /** When the channel last failed (ms, 0 never). */
  lastFailedAt(channelId: number): number;
}

/**
 * Picks the next channel to try: the highest-priority tier that still has a channel not in
 * `exclude`, then a weighted random draw inside that tier. Weight 0 channels are drawn only when
 * every remaining channel of the tier has weight 0 (then uniformly), so an operator can park a
 * channel as a last resort inside its tier. Channels that `health` says are blocked are passed
 * over while another channel can serve; when every one left is blocked, the one that failed
 * least recently is tried rather than none. Returns undefined when every channel was tried.
 */
export function selectChannel(
  tiers: readonly Tier[],
  exclude: ReadonlySet<number>,
  random: Random = Math.random,
  health?: HealthView,
): RoutedChannel | undefined {
  if (!health) return pick(tiers, exclude, random);
  const healthy = pick(tiers, { has: (id: number) => exclude.has(id) || health.blocked(id) }, random);
  if (healthy) return healthy;
  let oldest: RoutedChannel | undefined;
  let oldestAt = Infinity;
  for (const tier of tiers) {
    for (const ch of tier.channels) {
      if (exclude.has(ch.id)) continue;
      const at = health.lastFailedAt(ch.id);
      if (at < oldestAt) {
        oldest = ch;
        oldestAt = at;
      }
    }
  }
  return oldest;
}

function pick(
  tiers: readonly Tier[],
  exclude: Pick<ReadonlySet<number>, 'has'>,
  random: Random,
): RoutedChannel | undefined {
  for (const tier of tiers) {
    const picked = pickInTier(tier.channels, exclude, random);
    if (picked) return picked;
  }
  return undefined;
}

function pickInTier(
  channels: readonly RoutedChannel[],
  exclude: Pick<ReadonlySet<number>, 'has'>,
  random: Random,
): RoutedChannel | undefined {
  let total = 0;
  let remaining = 0;
  for (const ch of channels) {
    if (exclude.has(ch.id)) continue;
    remaining++;
    total += ch.weight;
  }
  if (remaining === 0) return undefined;
  if (total === 0) {
    let n = Math.floor(random() * remaining);
    for (const ch of channels) {
      if (exclude.has(ch.id)) continue;
      if (n-- === 0) return ch;
    }
  }
  let r = random() * total;
  let last: RoutedChannel | undefined;
  for (const ch of channels) {
    if (exclude.has(ch.id) || ch.weight === 0) continue;
    last = ch;
    r -= ch.weight;
    if (r < 0) return ch;
  }
  return last; // floating-point edge: r landed exactly on the total
}

/** The model name to send upstream for a requested model on this channel. */
export function upstreamModel(channel: Pick<RoutedChannel, 'modelMapping'>, requested: string): string {
  return Object.hasOwn(channel.modelMapping, requested) ? channel.modelMapping[requested]! : requested;
}

/** A small seeded generator (mulberry32) for reproducible draws in tests and benchmarks. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
