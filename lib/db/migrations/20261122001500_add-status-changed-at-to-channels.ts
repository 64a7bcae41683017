import type { Knex } from 'knex';

/** When the channel's status last changed (ms since the epoch), for auto-disables and re-enables. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.bigInteger('status_changed_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.dropColumn('status_changed_at');
  });
}
