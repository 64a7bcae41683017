import { z } from 'zod';
import { rateLimitFields } from './billing.schemas.js';
import { groupName, pagination } from './validation.js';

const fields = {
  username: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, '1-64 letters, digits, _ . @ -'),
  role: z.enum(['root', 'admin', 'user']),
  group: groupName,
  quota: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable(),
  status: z.enum(['enabled', 'disabled']),
  ...rateLimitFields,
};

export const createUserSchema = z.strictObject({
  ...fields,
  role: fields.role.default('user'),
  group: fields.group.default('default'),
  quota: fields.quota.default(null),
  status: fields.status.default('enabled'),
  rpm_limit: fields.rpm_limit.default(null),
  tpm_limit: fields.tpm_limit.default(null),
  /** The console password (checked against the policy by the service); none: token sign-in only. */
  password: z.string().optional(),
});

export const updateUserSchema = z.strictObject(fields).partial();

export const listUsersSchema = z.object({
  ...pagination,
  q: z.string().max(64).optional(),
  role: fields.role.optional(),
});

export const createAccessTokenSchema = z.strictObject({
  name: z.string().trim().min(1).max(128).default('api'),
});

export const USER_READ_ONLY = ['id', 'used_quota', 'version', 'created_at', 'updated_at'] as const;

export type CreateUserInput = z.output<typeof createUserSchema>;
export type UpdateUserInput = z.output<typeof updateUserSchema>;
export type ListUsersInput = z.output<typeof listUsersSchema>;
