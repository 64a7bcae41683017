import type { Knex } from 'knex';

/**
 * The hourly roll-up of relayed requests (`usage_logs` rows of type `consume`) the dashboard
 * reads: per UTC hour (its start, ms), user, token, channel and model, the requests, error
 * answers (status 400 and above), tokens and quota. A request without a token or channel is
 * counted under 0 and one without a model under '' (ids start at 1 and the relay refuses an
 * empty model), so that the unique key, which MySQL and SQLite never match on NULLs, holds.
 *
 * Only the table: the rows logged before it are rolled up in the background once the gateway
 * listens (see `usage-hourly-backfill.ts` and the next migration's mark), never here, where a
 * large log would hold the start past any probe. Safe to run again after a start that died in
 * it: on MySQL each statement of a `createTable` commits on its own, so a table left without
 * its keys is dropped and made anew (no node wrote to it: this migration was not recorded).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('usage_hourly');
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
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('usage_hourly');
}
