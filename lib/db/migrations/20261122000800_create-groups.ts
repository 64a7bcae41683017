import type { Knex } from 'knex';

/** A group's price multiplier and its rate limits (for all its traffic together); config (versioned). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('groups', (t) => {
    t.string('name', 64).primary();
    t.double('ratio').notNullable().defaultTo(1);
    t.bigInteger('rpm_limit').nullable();
    t.bigInteger('tpm_limit').nullable();
    t.bigInteger('version').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('groups');
}
