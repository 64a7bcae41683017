import type { Knex } from 'knex';

/**
 * A user's console password, as an argon2id hash (the PHC string, salt and parameters included);
 * null: the user signs in with an access token only. Never part of the cached user record.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.string('password_hash', 255).nullable();
    t.bigInteger('password_changed_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('password_hash');
    t.dropColumn('password_changed_at');
  });
}
