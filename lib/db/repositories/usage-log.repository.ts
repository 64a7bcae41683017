import type { Knex } from 'knex';
import { num, numOrNull } from '../json-column.js';
import type { Db, Trx } from '../knex.js';

/**
 * `consume`: a relayed request; `topup` and `adjust`: an admin's change to a balance;
 * `reconcile`: a repair of a live Redis balance to match the database (the stored quota is not
 * changed by it).
 */
export type UsageType = 'consume' | 'topup' | 'adjust' | 'reconcile';

/** One row of the usage log. `quota` is what the row did to the balance (charged, or added). */
export interface UsageRecord {
  /** Unique per charge, made by the gateway. */
  chargeId: string;
  /** The request id the client saw (x-request-id). */
  requestId: string;
  type: UsageType;
  createdAt: number;
  userId: number;
  tokenId: number | null;
  channelId: number | null;
  model: string | null;
  upstreamModel: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Of the prompt tokens, those the upstream wrote to its cache (0 on rows from before the column). */
  cacheWriteTokens?: number;
  quota: number;
  latencyMs: number | null;
  ttftMs: number | null;
  stream: boolean;
  status: number;
  retries: number;
  note: string | null;
  /** How the charge was computed: the prices (USD per 1M tokens) and group ratio applied; null when unpriced. */
  priceInput?: number | null;
  priceOutput?: number | null;
  priceCachedInput?: number | null;
  priceCacheWriteInput?: number | null;
  groupRatio?: number | null;
}

export interface UsageFilter {
  from?: number;
  to?: number;
  userId?: number;
  tokenId?: number;
  channelId?: number;
  model?: string;
  status?: number;
  type?: UsageType;
  requestId?: string;
}

/** One line of the stats: a UTC day and a model. */
export interface UsageStat {
  day: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  quota: number;
}

/** One bucket of the dashboard's series. */
export interface UsageBucket {
  /** The bucket's start (ms). */
  start: number;
  requests: number;
  tokens: number;
  quota: number;
  errors: number;
}

const DAY_MS = 86_400_000;

function toRecord(r: Record<string, unknown>): UsageRecord & { id: number } {
  return {
    id: num(r.id),
    chargeId: String(r.charge_id),
    requestId: String(r.request_id),
    type: r.type as UsageType,
    createdAt: num(r.created_at),
    userId: num(r.user_id),
    tokenId: numOrNull(r.token_id),
    channelId: numOrNull(r.channel_id),
    model: (r.model as string | null) ?? null,
    upstreamModel: (r.upstream_model as string | null) ?? null,
    promptTokens: num(r.prompt_tokens),
    completionTokens: num(r.completion_tokens),
    cachedTokens: num(r.cached_tokens),
    cacheWriteTokens: num(r.cache_write_tokens ?? 0),
    quota: num(r.quota),
    latencyMs: numOrNull(r.latency_ms),
    ttftMs: numOrNull(r.ttft_ms),
    stream: Boolean(num(r.stream)),
    status: num(r.status),
    retries: num(r.retries),
    note: (r.note as string | null) ?? null,
    priceInput: numOrNull(r.price_input),
    priceOutput: numOrNull(r.price_output),
    priceCachedInput: numOrNull(r.price_cached_input),
    priceCacheWriteInput: numOrNull(r.price_cache_write_input),
    groupRatio: numOrNull(r.group_ratio),
  };
}

function toRow(u: UsageRecord): Record<string, unknown> {
  return {
    charge_id: u.chargeId,
    request_id: u.requestId,
    type: u.type,
    created_at: u.createdAt,
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
    price_input: u.priceInput ?? null,
    price_output: u.priceOutput ?? null,
    price_cached_input: u.priceCachedInput ?? null,
    price_cache_write_input: u.priceCacheWriteInput ?? null,
    group_ratio: u.groupRatio ?? null,
  };
}

/** The only code that queries `usage_logs`. */
export class UsageLogRepository {
  constructor(private readonly db: Db) {}

  /** Which of `chargeIds` are already written (a replayed batch skips them). */
  async existing(trx: Knex, chargeIds: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < chargeIds.length; i += 500) {
      const rows = await trx('usage_logs')
        .whereIn('charge_id', chargeIds.slice(i, i + 500))
        .select('charge_id');
      for (const r of rows as { charge_id: string }[]) found.add(String(r.charge_id));
    }
    return found;
  }

  async insertMany(trx: Trx, rows: UsageRecord[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      await trx('usage_logs').insert(rows.slice(i, i + 200).map(toRow));
    }
  }

  /** Newest first. */
  async list(
    f: UsageFilter,
    page: number,
    perPage: number,
  ): Promise<{ rows: (UsageRecord & { id: number })[]; total: number }> {
    const base = this.filtered(f);
    const [countRow, rows] = await Promise.all([
      base.clone().count({ n: '*' }).first(),
      base
        .clone()
        .select('*')
        .orderBy('id', 'desc')
        .limit(perPage)
        .offset((page - 1) * perPage),
    ]);
    return { rows: (rows as Record<string, unknown>[]).map(toRecord), total: num(countRow?.n ?? 0) };
  }

  /** Requests, tokens and quota of relayed requests per UTC day and model. */
  async stats(f: UsageFilter): Promise<UsageStat[]> {
    const rows = (await this.filtered({ ...f, type: 'consume' })
      .select(this.db.raw('FLOOR(created_at / ?) AS day', [DAY_MS]), 'model')
      .count({ requests: '*' })
      .sum({ prompt: 'prompt_tokens', completion: 'completion_tokens', quota: 'quota' })
      .groupBy('day', 'model')
      .orderBy([{ column: 'day' }, { column: 'model' }])) as Record<string, unknown>[];
    return rows.map((r) => ({
      day: new Date(num(r.day) * DAY_MS).toISOString().slice(0, 10),
      model: String(r.model ?? ''),
      requests: num(r.requests),
      promptTokens: num(r.prompt ?? 0),
      completionTokens: num(r.completion ?? 0),
      quota: num(r.quota ?? 0),
    }));
  }

  async findById(id: number): Promise<(UsageRecord & { id: number }) | undefined> {
    const row = await this.db('usage_logs').where({ id }).first();
    return row ? toRecord(row) : undefined;
  }

  /**
   * Relayed requests per time bucket of `bucketMs` (aligned on the Unix epoch, so UTC hours and
   * days): requests, tokens, quota and error answers (status 400 and above). Empty buckets are absent.
   */
  async series(f: UsageFilter, bucketMs: number): Promise<UsageBucket[]> {
    const rows = (await this.filtered({ ...f, type: 'consume' })
      .select(
        this.db.raw('FLOOR(created_at / ?) AS b', [bucketMs]),
        this.db.raw('SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors'),
      )
      .count({ requests: '*' })
      .sum({ prompt: 'prompt_tokens', completion: 'completion_tokens', quota: 'quota' })
      .groupBy('b')
      .orderBy('b')) as Record<string, unknown>[];
    return rows.map((r) => ({
      start: num(r.b) * bucketMs,
      requests: num(r.requests),
      tokens: num(r.prompt ?? 0) + num(r.completion ?? 0),
      quota: num(r.quota ?? 0),
      errors: num(r.errors ?? 0),
    }));
  }

  /** The `limit` values of `column` with the most relayed requests, with their requests and quota. */
  async top(
    f: UsageFilter,
    column: 'model' | 'channel_id' | 'token_id',
    limit: number,
  ): Promise<{ key: string | number; requests: number; quota: number }[]> {
    const rows = (await this.filtered({ ...f, type: 'consume' })
      .whereNotNull(column)
      .select(column)
      .count({ requests: '*' })
      .sum({ quota: 'quota' })
      .groupBy(column)
      .orderBy([
        { column: 'requests', order: 'desc' },
        { column, order: 'asc' },
      ])
      .limit(limit)) as Record<string, unknown>[];
    return rows.map((r) => ({
      key: column === 'model' ? String(r[column]) : num(r[column]),
      requests: num(r.requests),
      quota: num(r.quota ?? 0),
    }));
  }

  private filtered(f: UsageFilter): Knex.QueryBuilder {
    return this.db('usage_logs').where((w) => {
      if (f.from !== undefined) w.where('created_at', '>=', f.from);
      if (f.to !== undefined) w.where('created_at', '<', f.to);
      if (f.userId !== undefined) w.where('user_id', f.userId);
      if (f.tokenId !== undefined) w.where('token_id', f.tokenId);
      if (f.channelId !== undefined) w.where('channel_id', f.channelId);
      if (f.model !== undefined) w.where('model', f.model);
      if (f.status !== undefined) w.where('status', f.status);
      if (f.type !== undefined) w.where('type', f.type);
      if (f.requestId !== undefined) w.where('request_id', f.requestId);
    });
  }
}
