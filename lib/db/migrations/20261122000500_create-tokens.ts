import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tokens', (t) => {
    t.increments('id').primary();
    t.string('name', 128).notNullable();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('key_hash', 64).notNullable().unique();
    t.string('key_prefix', 16).notNullable();
    t.string('group_name', 64).notNullable().defaultTo('default');
    t.string('status', 16).notNullable().defaultTo('enabled');
    t.bigInteger('quota').nullable();
    t.bigInteger('used_quota').notNullable().defaultTo(0);
    t.bigInteger('expires_at').nullable();
    t.text('models').nullable();
    t.text('subnets').nullable();
    t.bigInteger('version').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('accessed_at').nullable();
    t.unique(['user_id', 'name']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('tokens');
}
