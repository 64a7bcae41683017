import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tokens', (t) => {
    t.bigInteger('rpm_limit').nullable();
    t.bigInteger('tpm_limit').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tokens', (t) => {
    t.dropColumn('rpm_limit');
    t.dropColumn('tpm_limit');
  });
}
