import type { Knex } from 'knex';

/**
 * How a request's charge was computed: the prices (USD per 1M tokens) and the group ratio in
 * force when it was admitted. Null on rows written before this column, on top-ups and on
 * unpriced models.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_logs', (t) => {
    t.double('price_input').nullable();
    t.double('price_output').nullable();
    t.double('price_cached_input').nullable();
    t.double('group_ratio').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_logs', (t) => {
    t.dropColumn('price_input');
    t.dropColumn('price_output');
    t.dropColumn('price_cached_input');
    t.dropColumn('group_ratio');
  });
}
