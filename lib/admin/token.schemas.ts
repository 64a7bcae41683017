import { z } from 'zod';
import { rateLimitFields } from './billing.schemas.js';
import { cidr, groupName, modelName, pagination, timestamp } from './validation.js';

const fields = {
  name: z.string().trim().min(1).max(128),
  user_id: z.number().int().positive(),
  group: groupName,
  status: z.enum(['enabled', 'disabled']),
  quota: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable(),
  expires_at: timestamp.nullable(),
  models: z.array(modelName).max(1000).nullable(),
  subnets: z.array(cidr).min(1).max(100).nullable(),
  ...rateLimitFields,
};

export const createTokenSchema = z.strictObject({
  ...fields,
  user_id: fields.user_id.optional(),
  group: fields.group.optional(),
  status: fields.status.default('enabled'),
  quota: fields.quota.default(null),
  expires_at: fields.expires_at.default(null),
  models: fields.models.default(null),
  subnets: fields.subnets.default(null),
  rpm_limit: fields.rpm_limit.default(null),
  tpm_limit: fields.tpm_limit.default(null),
});

export const updateTokenSchema = z.strictObject({ ...fields, user_id: fields.user_id.optional() }).partial();

export const listTokensSchema = z.object({
  ...pagination,
  q: z.string().max(128).optional(),
  status: fields.status.optional(),
  user_id: z.coerce.number().int().positive().optional(),
});

export const TOKEN_READ_ONLY = [
  'id',
  'key_prefix',
  'used_quota',
  'created_at',
  'updated_at',
  'accessed_at',
  'version',
] as const;

export type CreateTokenInput = z.output<typeof createTokenSchema>;
export type UpdateTokenInput = z.output<typeof updateTokenSchema>;
export type ListTokensInput = z.output<typeof listTokensSchema>;
