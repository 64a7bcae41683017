import type { Knex } from 'knex';

/** Admin API credentials: one or more per user; only the SHA-256 of each is kept. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('access_tokens', (t) => {
    t.increments('id').primary();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('name', 128).notNullable();
    t.string('token_hash', 64).notNullable().unique();
    t.string('token_prefix', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_used_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('access_tokens');
}
