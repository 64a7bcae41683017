import type { Knex } from 'knex';

/** What a prompt token written to the upstream's cache costs (USD per 1M); null: charged as `input`. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('prices', (t) => {
    t.double('cache_write_input').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('prices', (t) => {
    t.dropColumn('cache_write_input');
  });
}
