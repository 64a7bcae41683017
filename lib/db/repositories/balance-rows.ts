import type { Knex } from 'knex';
import { num, numOrNull } from '../json-column.js';
import type { Db, Trx } from '../knex.js';

/** What the settled charges of a batch do to one balance row. */
export interface BalanceCharge {
  /** Added to `used_quota`. */
  used: number;
  /** Taken from `quota` (when it is not unlimited). */
  deduct: number;
}

/** A stored quota with the revision it was read at (see `quota_rev`). */
export interface QuotaAtRev {
  quota: number | null;
  rev: number;
}

/**
 * The balance columns that `tokens` and `users` share — `quota` (null: unlimited), `used_quota`
 * and `quota_rev`, raised by every write that changes the stored quota — and the queries billing
 * makes on them. Both repositories extend it; only the table differs.
 */
export abstract class BalanceRows {
  protected constructor(
    protected readonly db: Db,
    private readonly table: 'tokens' | 'users',
  ) {}

  /**
   * Applies settled charges (a batch from the usage flush): relative updates, so concurrent
   * writers never overwrite each other, and an unlimited (NULL) quota stays NULL.
   */
  async charge(trx: Trx, charges: ReadonlyMap<number, BalanceCharge>): Promise<void> {
    // In id order, so two batches touching the same rows lock them in the same order (no deadlock).
    for (const [id, c] of [...charges].sort((a, b) => a[0] - b[0])) {
      await trx(this.table)
        .where({ id })
        .update({
          used_quota: trx.raw('used_quota + ?', [c.used]),
          quota: trx.raw('CASE WHEN quota IS NULL THEN NULL ELSE quota - ? END', [c.deduct]),
          quota_rev: trx.raw('quota_rev + 1'),
        });
    }
  }

  /** The quota, locked for the rest of `trx` on MySQL: a quota change computes its delta from it. */
  async quotaForUpdate(trx: Trx, id: number): Promise<{ quota: number | null } | undefined> {
    let q = trx(this.table).where({ id }).first('quota');
    if (String(trx.client.config.client).startsWith('mysql')) q = q.forUpdate();
    const row = await q;
    return row ? { quota: row.quota === null ? null : num(row.quota) } : undefined;
  }

  /** Adds `delta` to a limited (non-NULL) quota (a top-up or an adjustment). */
  async addQuota(trx: Trx, id: number, delta: number): Promise<void> {
    await trx(this.table)
      .where({ id })
      .whereNotNull('quota')
      .update({
        quota: trx.raw('quota + ?', [delta]),
        quota_rev: trx.raw('quota_rev + 1'),
        updated_at: Date.now(),
      });
  }

  /** The stored quota (null: unlimited), read when a balance is first loaded. */
  async quotaOf(id: number): Promise<QuotaAtRev | undefined> {
    const row = await this.db(this.table).where({ id }).first('quota', 'quota_rev');
    return row ? { quota: numOrNull(row.quota), rev: num(row.quota_rev) } : undefined;
  }

  /**
   * Quotas with their revisions, read together, and each row's user (the balance
   * reconciliation; `q` may be a transaction). Rows that are gone are missing.
   */
  async quotasAtRev(
    ids: readonly number[],
    q: Knex = this.db,
  ): Promise<Map<number, QuotaAtRev & { userId: number }>> {
    const out = new Map<number, QuotaAtRev & { userId: number }>();
    if (ids.length === 0) return out;
    const tokens = this.table === 'tokens';
    const cols = tokens ? ['id', 'quota', 'quota_rev', 'user_id'] : ['id', 'quota', 'quota_rev'];
    const rows = (await q(this.table)
      .whereIn('id', [...ids])
      .select(cols)) as Record<string, unknown>[];
    for (const r of rows) {
      out.set(num(r.id), {
        quota: r.quota === null ? null : num(r.quota),
        rev: num(r.quota_rev),
        userId: tokens ? num(r.user_id) : num(r.id),
      });
    }
    return out;
  }

  /**
   * Raises a row's `quota_rev` inside `trx` (a quota edit about to be written) and returns the
   * new revision: a live balance loaded at this revision or later already holds the edit.
   */
  async bumpQuotaRev(trx: Trx, id: number): Promise<number> {
    await trx(this.table)
      .where({ id })
      .update({ quota_rev: trx.raw('quota_rev + 1') });
    const row = await trx(this.table).where({ id }).first('quota_rev');
    return row ? num(row.quota_rev) : 0;
  }
}
