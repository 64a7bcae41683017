import type { Knex } from 'knex';

/** The change log: one row per config version, read by nodes that missed messages. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('config_changes', (t) => {
    t.bigInteger('version').primary();
    t.string('kind', 16).notNullable();
    t.string('entity_id', 64).notNullable();
    t.string('op', 8).notNullable();
    t.bigInteger('at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('config_changes');
}
