import type { Knex } from 'knex';

/** Per-channel upstream timeouts; null means the global UPSTREAM_* setting. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.integer('connect_timeout_ms').nullable();
    t.integer('first_byte_timeout_ms').nullable();
    t.integer('idle_timeout_ms').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.dropColumn('connect_timeout_ms');
    t.dropColumn('first_byte_timeout_ms');
    t.dropColumn('idle_timeout_ms');
  });
}
