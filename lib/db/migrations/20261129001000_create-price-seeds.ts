import type { Knex } from 'knex';

/**
 * One row per model of the default price catalogue that was ever seeded (or found already
 * priced): a model listed here is never seeded again, so a price an admin changed or deleted
 * stays as the admin left it when a later release runs the seed again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('price_seeds', (t) => {
    t.string('model', 128).primary();
    t.integer('catalogue_version').notNullable();
    /** 'seeded': the catalogue's price was written; 'kept': the model already had a price. */
    t.string('outcome', 16).notNullable();
    t.bigInteger('seeded_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('price_seeds');
}
