import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id').primary();
    t.string('username', 64).notNullable().unique();
    t.string('role', 16).notNullable();
    t.string('group_name', 64).notNullable().defaultTo('default');
    t.bigInteger('quota').nullable();
    t.bigInteger('used_quota').notNullable().defaultTo(0);
    t.string('status', 16).notNullable().defaultTo('enabled');
    t.bigInteger('version').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
