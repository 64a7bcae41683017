import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('channels', (t) => {
    t.increments('id').primary();
    t.string('name', 128).notNullable().unique();
    t.string('type', 32).notNullable();
    t.string('base_url', 512).notNullable();
    t.text('key_enc').notNullable();
    t.string('key_masked', 32).notNullable();
    t.text('models').notNullable();
    t.text('groups').notNullable();
    t.text('model_mapping').notNullable();
    t.integer('priority').notNullable().defaultTo(0);
    t.integer('weight').notNullable().defaultTo(1);
    t.string('status', 16).notNullable().defaultTo('enabled');
    t.string('status_reason', 512).nullable();
    t.bigInteger('version').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('channels');
}
