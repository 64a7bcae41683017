import { num } from '../json-column.js';
import { dialectOf, type Db, type Trx } from '../knex.js';
import { HOUR_MS } from '../usage-hourly.js';

/** What one backfill step did. */
export interface BackfillStep {
  /** Nothing is left to roll up: the mark is 0. */
  done: boolean;
  /** The window rolled up, [from, to) (ms, whole hours); absent when done. */
  window?: [number, number];
  /** The usage rows of the window (every type). */
  rows: number;
  /** The mark after the step. */
  completeFrom: number;
}

const SUMS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'quota'];
const COLUMNS = ['hour', 'user_id', 'token_id', 'channel_id', 'model', ...SUMS];

/**
 * How far back the hourly roll-up `usage_hourly` is complete (the one row of
 * `usage_hourly_state`), and the backfill that rolls up the usage rows logged before the
 * roll-up existed, one window of hours at a time, lowering that mark to 0.
 */
export class UsageRollupRepository {
  constructor(private readonly db: Db) {}

  /**
   * The hour (ms) from which on `usage_hourly` holds every relayed request of the log; 0 when
   * it holds them all. It only ever goes down, so a value read a while ago is still true.
   */
  async completeFrom(): Promise<number> {
    const row = (await this.db('usage_hourly_state').where({ id: 1 }).first('complete_from')) as
      { complete_from: unknown } | undefined;
    return row ? num(row.complete_from) : 0;
  }

  /**
   * Rolls up the newest window of at most `hours` whole hours below the mark that holds usage
   * rows, in one transaction: the window's roll-up rows are replaced by the sums of its usage
   * rows, and the mark goes down to the window's start (to 0 once no row is left below it).
   * Rows the write path added to the window meanwhile (a charge re-sent with its old time) are
   * in the usage rows too, so they count once. On MySQL the window's usage rows are share-locked
   * first, so a writer of the window waits for the step (or the step for it), in the order the
   * writers take their locks (usage rows, then roll-up): neither deadlocks the other. The mark's
   * row is locked too: two steps at once (two masters for a moment) take turns.
   */
  async backfillStep(hours: number): Promise<BackfillStep> {
    // Complete: one read, no transaction (the case of every start but the first after the upgrade).
    if ((await this.completeFrom()) <= 0) return { done: true, rows: 0, completeFrom: 0 };
    return this.db.transaction(async (trx) => {
      const mysql = dialectOf(trx) === 'mysql';
      let mark = trx('usage_hourly_state').where({ id: 1 }).first('complete_from');
      if (mysql) mark = mark.forUpdate();
      const row = (await mark) as { complete_from: unknown } | undefined;
      const completeFrom = row ? num(row.complete_from) : 0;
      if (completeFrom <= 0) return { done: true, rows: 0, completeFrom: 0 };
      // The hours between the newest row below the mark and the mark hold no row logged before
      // the roll-up: they are skipped (a month without traffic costs one step, not 120).
      const newest = (await trx('usage_logs')
        .where('created_at', '<', completeFrom)
        .max({ t: 'created_at' })
        .first()) as { t: unknown } | undefined;
      if (newest?.t === null || newest?.t === undefined) {
        await this.setMark(trx, 0);
        return { done: true, rows: 0, completeFrom: 0 };
      }
      const to = Math.min(completeFrom, (Math.floor(num(newest.t) / HOUR_MS) + 1) * HOUR_MS);
      const from = to - Math.max(1, Math.floor(hours)) * HOUR_MS;
      let locked = trx('usage_logs')
        .where('created_at', '>=', from)
        .where('created_at', '<', to)
        .count({ n: '*' })
        .first();
      if (mysql) locked = locked.forShare();
      const rows = num(((await locked) as { n: unknown } | undefined)?.n ?? 0);
      await trx('usage_hourly').where('hour', '>=', from).where('hour', '<', to).del();
      await trx.raw(this.rollUpSql(mysql), [HOUR_MS, HOUR_MS, from, to]);
      await this.setMark(trx, from);
      return { done: false, window: [from, to] as [number, number], rows, completeFrom: from };
    });
  }

  /**
   * The window's roll-up rows from its usage rows. Replaces a row that is there after all (on
   * MySQL at READ COMMITTED, a writer may add one between the delete and this), never adds to
   * it: the sums already hold that writer's rows. A derived table, not `VALUES()`, names the new
   * sums on MySQL (deprecated there since 8.0.20; MariaDB takes both).
   */
  private rollUpSql(mysql: boolean): string {
    const select = `SELECT FLOOR(created_at / ?) * ? AS hour, user_id, COALESCE(token_id, 0) AS token_id,
        COALESCE(channel_id, 0) AS channel_id, COALESCE(model, '') AS model, COUNT(*) AS requests,
        SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, SUM(prompt_tokens) AS prompt_tokens,
        SUM(completion_tokens) AS completion_tokens, SUM(quota) AS quota
      FROM usage_logs
      WHERE type = 'consume' AND created_at >= ? AND created_at < ?
      GROUP BY 1, 2, 3, 4, 5`;
    const insert = `INSERT INTO usage_hourly (${COLUMNS.join(', ')})`;
    return mysql
      ? `${insert} SELECT * FROM (${select}) AS w ON DUPLICATE KEY UPDATE ${SUMS.map((c) => `${c} = w.${c}`).join(', ')}`
      : `${insert} ${select} ON CONFLICT (hour, user_id, token_id, channel_id, model) DO UPDATE SET ${SUMS.map((c) => `${c} = excluded.${c}`).join(', ')}`;
  }

  private async setMark(trx: Trx, completeFrom: number): Promise<void> {
    await trx('usage_hourly_state')
      .where({ id: 1 })
      .update({ complete_from: completeFrom, updated_at: Date.now() });
  }
}
