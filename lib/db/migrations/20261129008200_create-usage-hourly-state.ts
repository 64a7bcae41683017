import type { Knex } from 'knex';

const HOUR_MS = 3_600_000;

/**
 * The one row that says how far back `usage_hourly` is complete: `complete_from` (ms, on a UTC
 * hour), from which on every hour of the roll-up holds every relayed request of the log. Set
 * here to the next whole hour (the current one already has rows the roll-up never saw), or to 0
 * on a database with no usage rows yet; the background backfill lowers it, window by window,
 * to 0. The dashboard reads the roll-up only from it on. Safe to run again after a start that
 * died in it (the table is made anew: nothing read it, this migration was not recorded).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('usage_hourly_state');
  await knex.schema.createTable('usage_hourly_state', (t) => {
    t.integer('id').primary();
    t.bigInteger('complete_from').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
  const now = Date.now();
  const logged = await knex('usage_logs').select('id').limit(1).first();
  await knex('usage_hourly_state').insert({
    id: 1,
    complete_from: logged ? (Math.floor(now / HOUR_MS) + 1) * HOUR_MS : 0,
    updated_at: now,
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('usage_hourly_state');
}
