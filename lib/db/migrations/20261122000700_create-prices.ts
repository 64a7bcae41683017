import type { Knex } from 'knex';

/** What a model costs, in US dollars per 1M tokens; config (versioned), keyed by the model name. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('prices', (t) => {
    t.string('model', 128).primary();
    t.double('input').notNullable();
    t.double('output').notNullable();
    t.double('cached_input').nullable();
    t.bigInteger('version').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('prices');
}
