import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { num, numOrNull } from '../json-column.js';
import { dialectOf, type Db, type Trx } from '../knex.js';
import { hourlyDeltas, hourlyParams, hourlyUpsertSql, splitRange } from '../usage-hourly.js';

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

/**
 * A row that records a change to a balance rather than a relayed request (a top-up, an
 * adjustment, a reconciliation): its own charge id, and no model, channel or tokens.
 */
export function balanceEntry(e: {
  type: Exclude<UsageType, 'consume'>;
  requestId: string;
  userId: number;
  tokenId: number | null;
  quota: number;
  note: string;
}): UsageRecord {
  return {
    ...e,
    chargeId: randomUUID(),
    createdAt: Date.now(),
    channelId: null,
    model: null,
    upstreamModel: null,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    latencyMs: null,
    ttftMs: null,
    stream: false,
    status: 200,
    retries: 0,
  };
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

/** The dashboard's range [from, to) (ms), and whose requests (everyone's without a user). */
export interface DashboardFilter {
  from: number;
  to: number;
  userId?: number;
  /**
   * The roll-up's mark (`UsageRollupRepository.completeFrom`, read once for the request): its
   * hours before it are answered from the usage rows.
   */
  completeFrom: number;
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

/** How many roll-up rows one upsert statement writes. */
const HOURLY_CHUNK = 100;

/**
 * The only code that queries `usage_logs` and its hourly roll-up of relayed requests,
 * `usage_hourly` (kept in the transaction that writes the rows; the SQLite fast path in
 * ChargeRepository keeps it too).
 */
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

  /** Writes rows (none may be written already) and adds the relayed requests among them to the roll-up. */
  async insertMany(trx: Trx, rows: UsageRecord[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      await trx('usage_logs').insert(rows.slice(i, i + 200).map(toRow));
    }
    await this.addHourly(trx, rows);
  }

  /**
   * Adds the relayed requests of `rows` to `usage_hourly`, one upsert per key. In key order, so
   * that concurrent writers (cluster nodes writing to MySQL while Redis is away) lock the rows
   * they share in the same order.
   */
  private async addHourly(trx: Trx, rows: UsageRecord[]): Promise<void> {
    const byKey = hourlyDeltas(rows);
    if (byKey.size === 0) return;
    const deltas = [...byKey.keys()].sort().map((k) => byKey.get(k)!);
    const dialect = dialectOf(trx);
    for (let i = 0; i < deltas.length; i += HOURLY_CHUNK) {
      const chunk = deltas.slice(i, i + HOURLY_CHUNK);
      await trx.raw(hourlyUpsertSql(dialect, chunk.length), chunk.flatMap(hourlyParams));
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
   * Relayed requests per time bucket of `bucketMs` (a whole number of hours, aligned on the Unix
   * epoch, so UTC hours and days): requests, tokens, quota and error answers (status 400 and
   * above). Empty buckets are absent. Whole hours come from the roll-up, the partial hours at
   * the range's edges (and the hours before the roll-up's mark, while it is being backfilled)
   * from the rows, so the cost does not grow with the requests of the range.
   */
  async series(f: DashboardFilter, bucketMs: number): Promise<UsageBucket[]> {
    const rows = (await this.rolledUp(
      f,
      (q) =>
        q
          .select(this.db.raw('FLOOR(hour / ?) AS b', [bucketMs]))
          .sum({ requests: 'requests', errors: 'errors', prompt: 'prompt_tokens' })
          .sum({ completion: 'completion_tokens', quota: 'quota' })
          .groupBy('b'),
      (q) =>
        q
          .select(
            this.db.raw('FLOOR(created_at / ?) AS b', [bucketMs]),
            this.db.raw('COUNT(*) AS requests'),
            this.db.raw('SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors'),
          )
          .sum({ prompt: 'prompt_tokens', completion: 'completion_tokens', quota: 'quota' })
          .groupBy('b'),
    )
      .select('b')
      .sum({ requests: 'requests', errors: 'errors', prompt: 'prompt', completion: 'completion' })
      .sum({ quota: 'quota' })
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

  /**
   * The `limit` values of `column` with the most relayed requests in the range, with their
   * requests and quota (ties by value). Whole hours from the roll-up, edges from the rows.
   */
  async top(
    f: DashboardFilter,
    column: 'model' | 'channel_id' | 'token_id',
    limit: number,
  ): Promise<{ key: string | number; requests: number; quota: number }[]> {
    const rows = (await this.rolledUp(
      f,
      (q) =>
        q
          .where(column, '<>', column === 'model' ? '' : 0)
          .select({ k: column })
          .sum({ requests: 'requests', quota: 'quota' })
          .groupBy(column),
      (q) =>
        q
          .whereNotNull(column)
          .select({ k: column }, this.db.raw('COUNT(*) AS requests'))
          .sum({ quota: 'quota' })
          .groupBy(column),
    )
      .select('k')
      .sum({ requests: 'requests', quota: 'quota' })
      .groupBy('k')
      .orderBy([
        { column: 'requests', order: 'desc' },
        { column: 'k', order: 'asc' },
      ])
      .limit(limit)) as Record<string, unknown>[];
    return rows.map((r) => ({
      key: column === 'model' ? String(r.k) : num(r.k),
      requests: num(r.requests),
      quota: num(r.quota ?? 0),
    }));
  }

  /**
   * A query over the union of `hourly` (the roll-up's whole hours of the range from its mark on,
   * aggregated) and `raw` (the usage rows of the rest, aggregated alike): the caller sums the
   * two up.
   */
  private rolledUp(
    f: DashboardFilter,
    hourly: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
    raw: (q: Knex.QueryBuilder) => Knex.QueryBuilder,
  ): Knex.QueryBuilder {
    const { hours, edges } = splitRange(f.from, f.to, f.completeFrom);
    const parts: Knex.QueryBuilder[] = [];
    if (hours) {
      parts.push(
        hourly(
          this.db('usage_hourly').where((w) => {
            w.where('hour', '>=', hours[0]).where('hour', '<', hours[1]);
            if (f.userId !== undefined) w.where('user_id', f.userId);
          }),
        ),
      );
    }
    for (const [from, to] of edges) {
      parts.push(raw(this.filtered({ from, to, userId: f.userId, type: 'consume' })));
    }
    // An empty range: one part that matches nothing keeps the query's shape.
    if (parts.length === 0) parts.push(raw(this.filtered({ from: f.from, to: f.from, type: 'consume' })));
    // Each part in a subquery of its own: knex writes a union's first GROUP BY after the union.
    const [first, ...rest] = parts.map((p, i) => this.db.select('*').from(p.as(`p${i}`)));
    return this.db.from((rest.length > 0 ? first!.unionAll(rest) : first!).as('u'));
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
