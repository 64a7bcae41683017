import type { GroupRecord } from '../db/repositories/group.repository.js';
import type { PriceRecord, PriceValues } from '../db/repositories/price.repository.js';

/** Quota units per US dollar: 1 unit = $0.000002, as in One API. */
export const QUOTA_PER_USD = 500_000;

/** The model name of the price that applies to every model without one of its own. */
export const DEFAULT_PRICE_MODEL = '*';

/** Token counts of one request, as billed. */
export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
  /** Of the prompt tokens, those the upstream served from its cache. */
  cachedTokens: number;
  /** Of the prompt tokens, those the upstream wrote to its cache (Anthropic, Bedrock). */
  cacheWriteTokens?: number;
}

/**
 * Quota units for `counts` at `price` (USD per 1M tokens) times the group's `ratio`, rounded up
 * to a whole unit. Prompt tokens read from the upstream's cache cost `cachedInput`, those written
 * to it `cacheWriteInput`, each `input` when the price has none.
 */
export function quotaFor(counts: TokenCounts, price: PriceValues, ratio: number): number {
  const cached = Math.min(counts.cachedTokens, counts.promptTokens);
  const written = Math.min(counts.cacheWriteTokens ?? 0, counts.promptTokens - cached);
  const usd =
    ((counts.promptTokens - cached - written) * price.input +
      cached * (price.cachedInput ?? price.input) +
      // `??`: a price from an older L2 copy has no cacheWriteInput at all.
      written * (price.cacheWriteInput ?? price.input) +
      counts.completionTokens * price.output) /
    1_000_000;
  // The epsilon keeps float noise (0.1 + 0.2) from rounding a whole unit up to the next.
  return Math.max(0, Math.ceil(usd * QUOTA_PER_USD * ratio - 1e-9));
}

/**
 * The L1 copy of prices and groups: built whole by a full resync, patched by each change, read
 * without I/O on every request.
 */
export class PriceBook {
  private readonly prices = new Map<string, PriceRecord>();
  private readonly groups = new Map<string, GroupRecord>();

  static build(prices: PriceRecord[], groups: GroupRecord[]): PriceBook {
    const book = new PriceBook();
    for (const p of prices) book.prices.set(p.model, p);
    for (const g of groups) book.groups.set(g.name, g);
    return book;
  }

  /** The model's price, else the default (`*`) price, else undefined. */
  price(model: string): PriceRecord | undefined {
    return this.prices.get(model) ?? this.prices.get(DEFAULT_PRICE_MODEL);
  }

  group(name: string): GroupRecord | undefined {
    return this.groups.get(name);
  }

  setPrice(model: string, price: PriceRecord | undefined): void {
    if (price) this.prices.set(model, price);
    else this.prices.delete(model);
  }

  setGroup(name: string, group: GroupRecord | undefined): void {
    if (group) this.groups.set(name, group);
    else this.groups.delete(name);
  }
}
