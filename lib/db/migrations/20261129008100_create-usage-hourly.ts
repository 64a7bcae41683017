import type { Knex } from 'knex';

const HOUR_MS = 3_600_000;
/** How much of the log one backfill statement rolls up (whole hours, so no key spans two). */
const WINDOW_MS = 6 * HOUR_MS;

/**
 * The hourly roll-up of relayed requests (`usage_logs` rows of type `consume`) the dashboard
 * reads: per UTC hour (its start, ms), user, token, channel and model, the requests, error
 * answers (status 400 and above), tokens and quota. A request without a token or channel is
 * counted under 0 and one without a model under '' (ids start at 1 and the relay refuses an
 * empty model), so that the unique key, which MySQL and SQLite never match on NULLs, holds.
 * Filled from the rows already logged, a window of hours per statement.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('usage_hourly', (t) => {
    t.bigInteger('hour').notNullable();
    t.integer('user_id').notNullable();
    t.integer('token_id').notNullable().defaultTo(0);
    t.integer('channel_id').notNullable().defaultTo(0);
    t.string('model', 128).notNullable().defaultTo('');
    t.bigInteger('requests').notNullable().defaultTo(0);
    t.bigInteger('errors').notNullable().defaultTo(0);
    t.bigInteger('prompt_tokens').notNullable().defaultTo(0);
    t.bigInteger('completion_tokens').notNullable().defaultTo(0);
    t.bigInteger('quota').notNullable().defaultTo(0);
    t.unique(['hour', 'user_id', 'token_id', 'channel_id', 'model'], {
      indexName: 'usage_hourly_key',
    });
    t.index(['user_id', 'hour']);
  });
  let at = await next(knex, 0);
  while (at !== undefined) {
    const from = Math.floor(at / HOUR_MS) * HOUR_MS;
    await knex.raw(
      `INSERT INTO usage_hourly (hour, user_id, token_id, channel_id, model, requests, errors, prompt_tokens, completion_tokens, quota)
       SELECT FLOOR(created_at / ${HOUR_MS}) * ${HOUR_MS} AS h, user_id, COALESCE(token_id, 0) AS t,
              COALESCE(channel_id, 0) AS c, COALESCE(model, '') AS m, COUNT(*),
              SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens),
              SUM(completion_tokens), SUM(quota)
       FROM usage_logs
       WHERE type = 'consume' AND created_at >= ? AND created_at < ?
       GROUP BY h, user_id, t, c, m`,
      [from, from + WINDOW_MS],
    );
    at = await next(knex, from + WINDOW_MS);
  }
}

/** The time of the first logged row at or after `at` (skips the hours nothing was logged in). */
async function next(knex: Knex, at: number): Promise<number | undefined> {
  const row = (await knex('usage_logs').where('created_at', '>=', at).min({ t: 'created_at' }).first()) as
    { t: unknown } | undefined;
  return row?.t === null || row?.t === undefined ? undefined : Number(row.t);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('usage_hourly');
}
