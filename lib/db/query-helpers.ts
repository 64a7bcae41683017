import type { Knex } from 'knex';
import type { ConflictError } from '../errors/conflict.error.js';
import { isUniqueViolation } from './db-errors.js';
import { num } from './json-column.js';

/** Runs a write; a unique-key violation becomes the caller's 409 (naming the field), anything else passes. */
export async function mapUniqueViolation<T>(
  work: () => Promise<T>,
  conflict: () => ConflictError,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict();
    throw err;
  }
}

/** One page of a filtered query (ordered by id, or by `order` then id) and the total count of the filter. */
export async function paginate<R>(
  base: Knex.QueryBuilder,
  page: number,
  perPage: number,
  toRecord: (row: Record<string, unknown>) => R,
  order?: { column: string; dir: 'asc' | 'desc' },
): Promise<{ rows: R[]; total: number }> {
  const orderBy =
    order && order.column !== 'id'
      ? [
          { column: order.column, order: order.dir },
          { column: 'id', order: order.dir },
        ]
      : [{ column: 'id', order: order?.dir ?? 'asc' }];
  const [countRow, rows] = await Promise.all([
    base.clone().count({ n: '*' }).first(),
    base
      .clone()
      .select('*')
      .orderBy(orderBy)
      .limit(perPage)
      .offset((page - 1) * perPage),
  ]);
  return { rows: (rows as Record<string, unknown>[]).map(toRecord), total: num(countRow?.n ?? 0) };
}

/** What the settled charges of a batch do to one balance row. */
export interface BalanceCharge {
  /** Added to `used_quota`. */
  used: number;
  /** Taken from `quota` (when it is not unlimited). */
  deduct: number;
}

/**
 * Applies charges to the `quota`/`used_quota` of `tokens` or `users` rows: relative updates,
 * so concurrent writers never overwrite each other, and an unlimited (NULL) quota stays NULL.
 */
export async function chargeBalances(
  trx: Knex.Transaction,
  table: 'tokens' | 'users',
  charges: ReadonlyMap<number, BalanceCharge>,
): Promise<void> {
  // In id order, so two batches touching the same rows lock them in the same order (no deadlock).
  for (const [id, c] of [...charges].sort((a, b) => a[0] - b[0])) {
    await trx(table)
      .where({ id })
      .update({
        used_quota: trx.raw('used_quota + ?', [c.used]),
        quota: trx.raw('CASE WHEN quota IS NULL THEN NULL ELSE quota - ? END', [c.deduct]),
        quota_rev: trx.raw('quota_rev + 1'),
      });
  }
}

/** Reads a row's quota and, on MySQL, locks it until the transaction ends (so a flush cannot interleave). */
export async function quotaForUpdate(
  trx: Knex.Transaction,
  table: 'tokens' | 'users',
  id: number,
): Promise<{ quota: number | null } | undefined> {
  let q = trx(table).where({ id }).first('quota');
  if (String(trx.client.config.client).startsWith('mysql')) q = q.forUpdate();
  const row = await q;
  return row ? { quota: row.quota === null ? null : num(row.quota) } : undefined;
}

/** Adds `delta` to a limited (non-NULL) quota of a `tokens` or `users` row. */
export async function addQuota(
  trx: Knex.Transaction,
  table: 'tokens' | 'users',
  id: number,
  delta: number,
): Promise<void> {
  await trx(table)
    .where({ id })
    .whereNotNull('quota')
    .update({
      quota: trx.raw('quota + ?', [delta]),
      quota_rev: trx.raw('quota_rev + 1'),
      updated_at: Date.now(),
    });
}

/**
 * Raises a row's `quota_rev` inside `trx` (a quota edit about to be written) and returns the new
 * revision: a live balance loaded at this revision or later already holds the edit.
 */
export async function bumpQuotaRev(
  trx: Knex.Transaction,
  table: 'tokens' | 'users',
  id: number,
): Promise<number> {
  await trx(table)
    .where({ id })
    .update({ quota_rev: trx.raw('quota_rev + 1') });
  const row = await trx(table).where({ id }).first('quota_rev');
  return row ? num(row.quota_rev) : 0;
}

/** A stored quota with the revision it was read at (see `quota_rev`). */
export interface QuotaAtRev {
  quota: number | null;
  rev: number;
}

/** The quotas and revisions of some rows (`q` may be a transaction); rows that are gone are missing. */
export async function quotasAtRev(
  q: Knex,
  table: 'tokens' | 'users',
  ids: readonly number[],
): Promise<Map<number, QuotaAtRev & { userId: number }>> {
  const out = new Map<number, QuotaAtRev & { userId: number }>();
  if (ids.length === 0) return out;
  const cols = table === 'tokens' ? ['id', 'quota', 'quota_rev', 'user_id'] : ['id', 'quota', 'quota_rev'];
  const rows = (await q(table)
    .whereIn('id', [...ids])
    .select(cols)) as Record<string, unknown>[];
  for (const r of rows) {
    out.set(num(r.id), {
      quota: r.quota === null ? null : num(r.quota),
      rev: num(r.quota_rev),
      userId: table === 'tokens' ? num(r.user_id) : num(r.id),
    });
  }
  return out;
}
