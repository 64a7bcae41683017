import { QUOTA_PER_USD, quotaFor } from '../billing/price-book.js';
import type {
  DashboardFilter,
  UsageFilter,
  UsageLogRepository,
  UsageRecord,
} from '../db/repositories/usage-log.repository.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { NotFoundError } from '../errors/not-found.error.js';
import { isAdmin, type Actor } from './actor.js';
import type { DashboardQuery, LogsQuery, StatsQuery } from './billing.schemas.js';
import { iso } from './validation.js';

export function usageView(u: UsageRecord & { id: number }) {
  return {
    id: u.id,
    type: u.type,
    request_id: u.requestId,
    created_at: iso(u.createdAt),
    user_id: u.userId,
    token_id: u.tokenId,
    channel_id: u.channelId,
    model: u.model,
    upstream_model: u.upstreamModel,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    cached_tokens: u.cachedTokens,
    cache_write_tokens: u.cacheWriteTokens ?? 0,
    quota: u.quota,
    latency_ms: u.latencyMs,
    ttft_ms: u.ttftMs,
    stream: u.stream,
    status: u.status,
    retries: u.retries,
    note: u.note,
  };
}

/** How far back the hourly roll-up is complete (see UsageRollupRepository). */
export interface RollupMark {
  completeFrom(): Promise<number>;
}

/** Names of channels or tokens by id. */
export interface NameLookup {
  namesByIds(ids: number[]): Promise<Map<number, string>>;
}

const BUCKET_MS = { hour: 3_600_000, day: 86_400_000 } as const;
const DEFAULT_RANGE_MS = { hour: 24 * 3_600_000, day: 30 * 86_400_000 } as const;
/** The most buckets one dashboard answer holds (a year by day, twelve weeks by hour). */
const MAX_BUCKETS = 2016;

/** The usage log, its daily stats and the dashboard. Admins see everyone's; a user only its own. */
export class UsageService {
  constructor(
    private readonly usage: UsageLogRepository,
    private readonly rollup: RollupMark,
    private readonly channels: NameLookup,
    private readonly tokens: NameLookup,
    private readonly clock: () => number = Date.now,
  ) {}

  async logs(actor: Actor, q: LogsQuery) {
    const { rows, total } = await this.usage.list(
      { ...this.filter(actor, q), status: q.status, type: q.type, requestId: q.request_id },
      q.page,
      q.per_page,
    );
    return { data: rows.map(usageView), total };
  }

  /**
   * One request's row with how its charge was computed: the prices per 1M tokens and the group
   * ratio applied, the token counts, the formula and the dollars. A user sees only its own.
   */
  async log(actor: Actor, id: number) {
    const row = await this.usage.findById(id);
    if (!row || (!isAdmin(actor) && row.userId !== actor.userId))
      throw new NotFoundError(`No usage log entry with id ${id}`, { param: 'id' });
    const [channels, tokens] = await Promise.all([
      isAdmin(actor) && row.channelId !== null
        ? this.channels.namesByIds([row.channelId])
        : Promise.resolve(new Map<number, string>()),
      row.tokenId !== null
        ? this.tokens.namesByIds([row.tokenId])
        : Promise.resolve(new Map<number, string>()),
    ]);
    return {
      ...usageView(row),
      attempts: row.type === 'consume' ? row.retries + 1 : null,
      channel_name: row.channelId === null ? null : (channels.get(row.channelId) ?? null),
      token_name: row.tokenId === null ? null : (tokens.get(row.tokenId) ?? null),
      charge: chargeOf(row),
    };
  }

  async stats(actor: Actor, q: StatsQuery) {
    const rows = await this.usage.stats(this.filter(actor, q));
    return {
      data: rows.map((r) => ({
        day: r.day,
        model: r.model,
        requests: r.requests,
        prompt_tokens: r.promptTokens,
        completion_tokens: r.completionTokens,
        quota: r.quota,
      })),
    };
  }

  /**
   * Requests, tokens, quota and errors per hour or day over a range (every bucket present, empty
   * ones as zeros), and the top models, channels (admins only) and tokens of that range.
   */
  async dashboard(actor: Actor, q: DashboardQuery) {
    const bucketMs = BUCKET_MS[q.bucket];
    const to = q.to ?? this.clock();
    const from = q.from ?? to - DEFAULT_RANGE_MS[q.bucket];
    if (from >= to) throw new BadRequestError('from: must be before to', { param: 'from' });
    const first = Math.floor(from / bucketMs) * bucketMs;
    if ((to - first) / bucketMs > MAX_BUCKETS)
      throw new BadRequestError(
        `The range holds more than ${MAX_BUCKETS} ${q.bucket}s: shorten it or use bucket=day`,
        { param: 'bucket' },
      );
    // Once per request: every query below splits the range at the same hour.
    const completeFrom = await this.rollup.completeFrom();
    const filter: DashboardFilter = {
      from,
      to,
      userId: isAdmin(actor) ? q.user_id : actor.userId,
      completeFrom,
    };
    const [buckets, models, channels, tokens] = await Promise.all([
      this.usage.series(filter, bucketMs),
      this.usage.top(filter, 'model', q.top),
      isAdmin(actor) ? this.usage.top(filter, 'channel_id', q.top) : Promise.resolve([]),
      this.usage.top(filter, 'token_id', q.top),
    ]);
    const byStart = new Map(buckets.map((b) => [b.start, b]));
    const series = [];
    for (let t = first; t < to; t += bucketMs) {
      const b = byStart.get(t);
      series.push({
        t: new Date(t).toISOString(),
        requests: b?.requests ?? 0,
        tokens: b?.tokens ?? 0,
        quota: b?.quota ?? 0,
        errors: b?.errors ?? 0,
      });
    }
    const [channelNames, tokenNames] = await Promise.all([
      this.channels.namesByIds(channels.map((c) => Number(c.key))),
      this.tokens.namesByIds(tokens.map((t) => Number(t.key))),
    ]);
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      bucket: q.bucket,
      series,
      top_models: models.map((m) => ({ model: String(m.key), requests: m.requests, quota: m.quota })),
      top_channels: channels.map((c) => ({
        channel_id: Number(c.key),
        name: channelNames.get(Number(c.key)) ?? null,
        requests: c.requests,
        quota: c.quota,
      })),
      top_tokens: tokens.map((t) => ({
        token_id: Number(t.key),
        name: tokenNames.get(Number(t.key)) ?? null,
        requests: t.requests,
        quota: t.quota,
      })),
    };
  }

  private filter(actor: Actor, q: StatsQuery): UsageFilter {
    return {
      from: q.from,
      to: q.to,
      userId: isAdmin(actor) ? q.user_id : actor.userId,
      tokenId: q.token_id,
      channelId: q.channel_id,
      model: q.model,
    };
  }
}

/** How a row's quota was computed (see `quotaFor`), from the prices and ratio stored with it. */
function chargeOf(u: UsageRecord) {
  const base = {
    quota: u.quota,
    usd: u.quota / QUOTA_PER_USD,
    quota_per_usd: QUOTA_PER_USD,
  };
  if (u.type !== 'consume' || u.priceInput == null || u.priceOutput == null) {
    return {
      ...base,
      priced: false,
      explanation:
        u.type === 'consume'
          ? 'No price was recorded for this request (an unpriced model, or a row written before prices were recorded).'
          : `A ${u.type} of the balance by an admin.`,
    };
  }
  const ratio = u.groupRatio ?? 1;
  const cached = Math.min(u.cachedTokens, u.promptTokens);
  const written = Math.min(u.cacheWriteTokens ?? 0, u.promptTokens - cached);
  const uncached = u.promptTokens - cached - written;
  const price = {
    input: u.priceInput,
    output: u.priceOutput,
    cachedInput: u.priceCachedInput ?? null,
    cacheWriteInput: u.priceCacheWriteInput ?? null,
  };
  const cachedPrice = price.cachedInput ?? price.input;
  const writePrice = price.cacheWriteInput ?? price.input;
  const parts = {
    input_usd: (uncached * price.input) / 1_000_000,
    cached_input_usd: (cached * cachedPrice) / 1_000_000,
    cache_write_input_usd: (written * writePrice) / 1_000_000,
    output_usd: (u.completionTokens * price.output) / 1_000_000,
  };
  const beforeRatio =
    parts.input_usd + parts.cached_input_usd + parts.cache_write_input_usd + parts.output_usd;
  const writes = written > 0 ? ` + ${written} written to cache × $${writePrice}` : '';
  return {
    ...base,
    priced: true,
    price_per_1m: {
      input: price.input,
      output: price.output,
      cached_input: price.cachedInput,
      cache_write_input: price.cacheWriteInput,
    },
    group_ratio: ratio,
    tokens: {
      prompt: u.promptTokens,
      cached: cached,
      cache_write: written,
      uncached_prompt: uncached,
      completion: u.completionTokens,
    },
    ...parts,
    usd_before_ratio: beforeRatio,
    // The same function the gateway charged with.
    computed_quota: quotaFor(
      {
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
        cachedTokens: cached,
        cacheWriteTokens: written,
      },
      price,
      ratio,
    ),
    explanation:
      `quota = ceil(((${uncached} uncached prompt × $${price.input} + ${cached} cached × $${cachedPrice}${writes}` +
      ` + ${u.completionTokens} completion × $${price.output}) / 1M × ${QUOTA_PER_USD} quota per $ × ratio ${ratio})` +
      ` = ${u.quota}`,
  };
}
