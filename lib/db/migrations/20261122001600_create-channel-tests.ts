import type { Knex } from 'knex';

/**
 * The last test of each channel: health data, not config, so it is written by whichever node
 * ran the test without a config version.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('channel_tests', (t) => {
    t.integer('channel_id').unsigned().primary();
    t.bigInteger('tested_at').notNullable();
    t.boolean('ok').notNullable();
    t.integer('latency_ms').notNullable();
    t.integer('status').nullable();
    t.string('model', 128).notNullable();
    t.string('message', 500).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('channel_tests');
}
