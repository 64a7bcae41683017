import type { Knex } from 'knex';

/** Prices are keyed by model name (up to 128 characters): the change log must hold such an id. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('config_changes', (t) => {
    t.string('entity_id', 128).notNullable().alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('config_changes', (t) => {
    t.string('entity_id', 64).notNullable().alter();
  });
}
