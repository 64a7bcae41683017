import type { Knex } from 'knex';

/**
 * Prompt tokens the upstream wrote to its cache (Anthropic, Bedrock) and the price they were
 * charged at, so that a row's charge can be recomputed from the row alone. 0 and null on rows
 * written before these columns.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_logs', (t) => {
    t.integer('cache_write_tokens').notNullable().defaultTo(0);
    t.double('price_cache_write_input').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_logs', (t) => {
    t.dropColumn('cache_write_tokens');
    t.dropColumn('price_cache_write_input');
  });
}
