import type { Knex } from 'knex';

/**
 * One row per relayed request (type `consume`) and per quota top-up or adjustment. The charge id
 * (made by the gateway, never the client's request id) is unique: writing a batch again never
 * charges twice.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('usage_logs', (t) => {
    t.bigIncrements('id').primary();
    t.string('charge_id', 64).notNullable().unique();
    t.string('request_id', 128).notNullable();
    t.string('type', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.integer('user_id').notNullable();
    t.integer('token_id').nullable();
    t.integer('channel_id').nullable();
    t.string('model', 128).nullable();
    t.string('upstream_model', 128).nullable();
    t.integer('prompt_tokens').notNullable().defaultTo(0);
    t.integer('completion_tokens').notNullable().defaultTo(0);
    t.integer('cached_tokens').notNullable().defaultTo(0);
    t.bigInteger('quota').notNullable().defaultTo(0);
    t.integer('latency_ms').nullable();
    t.integer('ttft_ms').nullable();
    t.boolean('stream').notNullable().defaultTo(false);
    t.integer('status').notNullable().defaultTo(200);
    t.integer('retries').notNullable().defaultTo(0);
    t.string('note', 300).nullable();
    t.index(['created_at']);
    t.index(['request_id']);
    t.index(['user_id', 'created_at']);
    t.index(['token_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('usage_logs');
}
