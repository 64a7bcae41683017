import type { Knex } from 'knex';

/** The model a channel test asks for; null means the channel's first model. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.string('test_model', 128).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.dropColumn('test_model');
  });
}
