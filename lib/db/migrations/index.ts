import type { Knex } from 'knex';
import * as createConfigState from './20261122000100_create-config-state.js';
import * as createConfigChanges from './20261122000200_create-config-changes.js';
import * as createUsers from './20261122000300_create-users.js';
import * as createChannels from './20261122000400_create-channels.js';
import * as createTokens from './20261122000500_create-tokens.js';
import * as createAccessTokens from './20261122000600_create-access-tokens.js';
import * as createPrices from './20261122000700_create-prices.js';
import * as createGroups from './20261122000800_create-groups.js';
import * as addRateLimitsToTokens from './20261122000900_add-rate-limits-to-tokens.js';
import * as addRateLimitsToUsers from './20261122001000_add-rate-limits-to-users.js';
import * as createUsageLogs from './20261122001100_create-usage-logs.js';
import * as widenConfigChangeEntityId from './20261122001200_widen-config-change-entity-id.js';
import * as addTimeoutsToChannels from './20261122001300_add-timeouts-to-channels.js';
import * as addTestModelToChannels from './20261122001400_add-test-model-to-channels.js';
import * as addStatusChangedAtToChannels from './20261122001500_add-status-changed-at-to-channels.js';
import * as createChannelTests from './20261122001600_create-channel-tests.js';
import * as createPriceSeeds from './20261129001000_create-price-seeds.js';
import * as addSettingsToChannels from './20261129005100_add-settings-to-channels.js';
import * as addCacheWritesToUsageLogs from './20261129007100_add-cache-writes-to-usage-logs.js';
import * as addCacheWriteInputToPrices from './20261129006100_add-cache-write-input-to-prices.js';
import * as addPasswordHashToUsers from './20261129003100_add-password-hash-to-users.js';
import * as createSessions from './20261129003200_create-sessions.js';
import * as addPricingToUsageLogs from './20261129003300_add-pricing-to-usage-logs.js';
import * as addListIndexesToChannels from './20261129003400_add-list-indexes-to-channels.js';
import * as addQuotaRevToTokens from './20261129004100_add-quota-rev-to-tokens.js';
import * as addQuotaRevToUsers from './20261129004200_add-quota-rev-to-users.js';
import * as createIdempotencyKeys from './20261129004300_create-idempotency-keys.js';
import * as createUsageHourly from './20261129008100_create-usage-hourly.js';
import * as createUsageHourlyState from './20261129008200_create-usage-hourly-state.js';

type Migration = { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> };

/**
 * Every migration in order. Listed here (not globbed from disk) so the same list runs from the
 * TypeScript sources under tsx and from the compiled files under dist/.
 */
const migrations: [string, Migration][] = [
  ['20261122000100_create-config-state', createConfigState],
  ['20261122000200_create-config-changes', createConfigChanges],
  ['20261122000300_create-users', createUsers],
  ['20261122000400_create-channels', createChannels],
  ['20261122000500_create-tokens', createTokens],
  ['20261122000600_create-access-tokens', createAccessTokens],
  ['20261122000700_create-prices', createPrices],
  ['20261122000800_create-groups', createGroups],
  ['20261122000900_add-rate-limits-to-tokens', addRateLimitsToTokens],
  ['20261122001000_add-rate-limits-to-users', addRateLimitsToUsers],
  ['20261122001100_create-usage-logs', createUsageLogs],
  ['20261122001200_widen-config-change-entity-id', widenConfigChangeEntityId],
  ['20261122001300_add-timeouts-to-channels', addTimeoutsToChannels],
  ['20261122001400_add-test-model-to-channels', addTestModelToChannels],
  ['20261122001500_add-status-changed-at-to-channels', addStatusChangedAtToChannels],
  ['20261122001600_create-channel-tests', createChannelTests],
  ['20261129001000_create-price-seeds', createPriceSeeds],
  ['20261129003100_add-password-hash-to-users', addPasswordHashToUsers],
  ['20261129003200_create-sessions', createSessions],
  ['20261129003300_add-pricing-to-usage-logs', addPricingToUsageLogs],
  ['20261129003400_add-list-indexes-to-channels', addListIndexesToChannels],
  ['20261129004100_add-quota-rev-to-tokens', addQuotaRevToTokens],
  ['20261129004200_add-quota-rev-to-users', addQuotaRevToUsers],
  ['20261129004300_create-idempotency-keys', createIdempotencyKeys],
  ['20261129005100_add-settings-to-channels', addSettingsToChannels],
  ['20261129006100_add-cache-write-input-to-prices', addCacheWriteInputToPrices],
  ['20261129007100_add-cache-writes-to-usage-logs', addCacheWritesToUsageLogs],
  ['20261129008100_create-usage-hourly', createUsageHourly],
  ['20261129008200_create-usage-hourly-state', createUsageHourlyState],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
