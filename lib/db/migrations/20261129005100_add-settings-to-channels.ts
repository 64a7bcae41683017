import type { Knex } from 'knex';

/** Provider settings of a channel (an API version, a region…), JSON validated by its adapter's schema. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.text('settings').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.dropColumn('settings');
  });
}
