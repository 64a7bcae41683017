import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** The single row that orders every config write: `epoch` and the gap-free `version`. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('config_state', (t) => {
    t.integer('id').primary();
    t.string('epoch', 36).notNullable();
    t.bigInteger('version').notNullable().defaultTo(0);
    t.bigInteger('updated_at').notNullable();
  });
  await knex('config_state').insert({ id: 1, epoch: randomUUID(), version: 0, updated_at: Date.now() });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('config_state');
}
