import type { Knex } from 'knex';

/**
 * Console sign-in sessions. Only the SHA-256 of the session id (the cookie's value) is stored;
 * `expires_at` is the absolute expiry, `last_seen_at` (updated coarsely) drives the idle expiry,
 * and `revoked_at` ends a session before either (sign-out, password or role change).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sessions', (t) => {
    t.increments('id').primary();
    t.string('id_hash', 64).notNullable().unique();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('csrf_token', 64).notNullable();
    t.string('via', 16).notNullable();
    t.string('ip', 64).nullable();
    t.string('user_agent', 256).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('revoked_at').nullable();
    t.index(['user_id']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('sessions');
}
