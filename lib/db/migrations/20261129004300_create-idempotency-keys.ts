import type { Knex } from 'knex';

/**
 * One row per `Idempotency-Key` a money-moving admin call was sent with: the key is scoped to
 * the actor who sent it, and the stored answer is replayed to a retry until `expires_at`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('actor', 128).notNullable();
    t.string('idem_key', 128).notNullable();
    t.string('fingerprint', 64).notNullable();
    t.integer('status').notNullable();
    t.text('body').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.primary(['actor', 'idem_key']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
