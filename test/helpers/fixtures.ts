import type { ChannelRecord } from '../../lib/db/repositories/channel.repository.js';

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
    priority: 0,
    weight: 1,
    status: 'enabled',
    statusReason: null,
    version: 1,
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  };
}
