import type { ChannelRecord } from '../../lib/db/repositories/channel.repository.js';
import type { TokenRecord } from '../../lib/db/repositories/token.repository.js';
import type { UsageRecord } from '../../lib/db/repositories/usage-log.repository.js';

let nextId = 1;

/** A channel record with sensible defaults, for unit tests of routing. */
export function channel(fields: Partial<ChannelRecord> = {}): ChannelRecord {
  const id = fields.id ?? nextId++;
  return {
    id,
    name: `ch-${id}`,
    type: 'openai',
    baseUrl: 'http://127.0.0.1:1',
    keyEnc: `key-${id}`,
    keyMasked: 'sk-…',
    models: ['gpt-4o'],
    groups: ['default'],
    modelMapping: {},
    settings: {},
    priority: 0,
    weight: 1,
    status: 'enabled',
    statusReason: null,
    statusChangedAt: null,
    connectTimeoutMs: null,
    firstByteTimeoutMs: null,
    idleTimeoutMs: null,
    testModel: null,
    version: 1,
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  };
}

/** A usage log row of a relayed request, with defaults. */
export function usageRow(fields: Partial<UsageRecord> & { chargeId: string; userId: number }): UsageRecord {
  return {
    requestId: fields.chargeId,
    type: 'consume',
    createdAt: Date.now(),
    tokenId: null,
    channelId: null,
    model: 'gpt-4o',
    upstreamModel: 'gpt-4o',
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    quota: 0,
    latencyMs: 5,
    ttftMs: 5,
    stream: false,
    status: 200,
    retries: 0,
    note: null,
    ...fields,
  };
}

/** A token record with sensible defaults, for unit tests. */
export function tokenRecord(fields: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id: 1,
    name: 't',
    userId: 1,
    keyHash: 'h',
    keyPrefix: 'sk-abc',
    group: 'default',
    status: 'enabled',
    quota: null,
    usedQuota: 0,
    expiresAt: null,
    models: null,
    subnets: null,
    rpmLimit: null,
    tpmLimit: null,
    version: 1,
    createdAt: 0,
    updatedAt: 0,
    accessedAt: null,
    ...fields,
  };
}
