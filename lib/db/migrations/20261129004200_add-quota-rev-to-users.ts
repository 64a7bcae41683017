import type { Knex } from 'knex';

/**
 * `quota_rev`: raised by every write that changes the row's quota (a batch of charges, a top-up,
 * a quota edit). A live Redis balance remembers the revision it was loaded at, so a change made
 * on the database is applied to it only when the load did not already include it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.bigInteger('quota_rev').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('quota_rev');
  });
}
