import { z } from 'zod';
import { CHANNEL_SORTS } from '../db/repositories/channel.repository.js';
import { groupName, modelName, pagination, renameFields } from './validation.js';

/** `POST /api/channels/bulk`: up to 500 channels, one action. */
export const bulkChannelsSchema = z.strictObject({
  ids: z.array(z.number().int().positive()).min(1).max(500),
  action: z.enum(['enable', 'disable', 'delete']),
});

const baseUrl = z
  .string()
  .trim()
  .url('an http(s) URL such as https://api.openai.com')
  .refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL')
  .refine((u) => {
    const url = new URL(u);
    return url.username === '' && url.password === '';
  }, 'a URL without user:password@ (it would be stored and shown unmasked): put the credential in key')
  .transform((u) => u.replace(/\/+$/, ''))
  .refine(
    (u) => !/\/v1$/i.test(u),
    'everything before /v1: write https://api.openai.com, not https://api.openai.com/v1',
  );

/** A per-channel timeout in ms; null means the global setting. */
const timeout = z.number().int().min(1).max(3_600_000).nullable();

const fields = {
  name: z.string().trim().min(1).max(128),
  /** A registered adapter's type; the service checks it against the registry. */
  type: z.string().trim().min(1).max(32),
  base_url: baseUrl,
  key: z
    .string()
    .trim()
    .min(1)
    .max(4096)
    .refine(
      // eslint-disable-next-line no-control-regex -- control characters are what this refuses
      (k) => !/[\u0000-\u001f\u007f]/.test(k),
      'no control characters (CR, LF, tab, NUL…): paste the key alone',
    ),
  models: z
    .array(modelName)
    .max(1000)
    .transform((m) => [...new Set(m)]),
  groups: z
    .array(groupName)
    .min(1)
    .max(100)
    .transform((g) => [...new Set(g)]),
  model_mapping: z.record(modelName, modelName),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  weight: z.number().int().min(0).max(1_000_000),
  status: z.enum(['enabled', 'disabled', 'auto_disabled']),
  connect_timeout_ms: timeout,
  first_byte_timeout_ms: timeout,
  idle_timeout_ms: timeout,
  test_model: modelName.nullable(),
  /** Provider settings, validated by the adapter of `type`. */
  settings: z.record(z.string(), z.unknown()),
};

/** The API's field names → the repository's. */
const VALUES = {
  base_url: 'baseUrl',
  model_mapping: 'modelMapping',
  connect_timeout_ms: 'connectTimeoutMs',
  first_byte_timeout_ms: 'firstByteTimeoutMs',
  idle_timeout_ms: 'idleTimeoutMs',
  test_model: 'testModel',
} as const;

export const createChannelSchema = z
  .strictObject({
    ...fields,
    type: fields.type.default('openai'),
    models: fields.models.default([]),
    groups: fields.groups.default(['default']),
    model_mapping: fields.model_mapping.default({}),
    priority: fields.priority.default(0),
    weight: fields.weight.default(1),
    status: fields.status.default('enabled'),
    connect_timeout_ms: timeout.default(null),
    first_byte_timeout_ms: timeout.default(null),
    idle_timeout_ms: timeout.default(null),
    test_model: fields.test_model.default(null),
    settings: fields.settings.default({}),
  })
  .transform((input) => renameFields(input, VALUES));

/** `POST /api/channels/:id/test`: the model to ask for (default: the channel's test model). */
export const testChannelSchema = z.strictObject({ model: modelName.optional() });

export const updateChannelSchema = z
  .strictObject(fields)
  .partial()
  .transform((input) => renameFields(input, VALUES));

export const listChannelsSchema = z.object({
  ...pagination,
  q: z.string().max(128).optional(),
  status: fields.status.optional(),
  sort: z.enum(CHANNEL_SORTS).default('id'),
  order: z.enum(['asc', 'desc']).default('asc'),
  group: groupName.optional(),
  model: modelName.optional(),
  type: fields.type.optional(),
});

export const CHANNEL_READ_ONLY = [
  'id',
  'key_masked',
  'version',
  'created_at',
  'updated_at',
  'status_reason',
  'status_changed_at',
  'health',
] as const;

export type CreateChannelInput = z.output<typeof createChannelSchema>;
export type UpdateChannelInput = z.output<typeof updateChannelSchema>;
export type TestChannelInput = z.output<typeof testChannelSchema>;
export type BulkChannelsInput = z.output<typeof bulkChannelsSchema>;
export type ListChannelsInput = z.output<typeof listChannelsSchema>;
