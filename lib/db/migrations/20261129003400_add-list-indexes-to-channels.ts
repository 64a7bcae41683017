import type { Knex } from 'knex';

/**
 * Indexes for the console's channel list (filter by type, sort by priority, weight or last
 * change), so a page of 10,000+ channels is read in index order instead of sorted whole.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.index(['type'], 'channels_type_index');
    t.index(['priority'], 'channels_priority_index');
    t.index(['weight'], 'channels_weight_index');
    t.index(['updated_at'], 'channels_updated_at_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('channels', (t) => {
    t.dropIndex(['type'], 'channels_type_index');
    t.dropIndex(['priority'], 'channels_priority_index');
    t.dropIndex(['weight'], 'channels_weight_index');
    t.dropIndex(['updated_at'], 'channels_updated_at_index');
  });
}
