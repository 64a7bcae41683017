import { z } from 'zod';
import { modelName, pagination, renameFields } from './validation.js';

const usdPerMillion = z.number().min(0).max(1_000_000);

/** PUT /api/prices/:model — US dollars per 1M tokens. */
export const priceSchema = z
  .strictObject({
    input: usdPerMillion,
    output: usdPerMillion,
    cached_input: usdPerMillion.nullable().default(null),
    cache_write_input: usdPerMillion.nullable().default(null),
  })
  .transform((p) => renameFields(p, { cached_input: 'cachedInput', cache_write_input: 'cacheWriteInput' }));

/** PUT /api/groups/:name. */
export const groupSchema = z
  .strictObject({
    ratio: z.number().min(0).max(1000).default(1),
    rpm_limit: z.number().int().min(1).max(100_000_000).nullable().default(null),
    tpm_limit: z.number().int().min(1).max(10_000_000_000).nullable().default(null),
  })
  .transform((g) => renameFields(g, { rpm_limit: 'rpmLimit', tpm_limit: 'tpmLimit' }));

/** A rate limit on a token or user: per minute, null = none. */
export const rateLimitFields = {
  rpm_limit: z.number().int().min(1).max(100_000_000).nullable(),
  tpm_limit: z.number().int().min(1).max(10_000_000_000).nullable(),
};

/** POST /api/{tokens|users}/:id/quota: a top-up (positive) or a correction (negative). */
export const quotaAdjustSchema = z.strictObject({
  delta: z
    .number()
    .int()
    .min(-Number.MAX_SAFE_INTEGER)
    .max(Number.MAX_SAFE_INTEGER)
    .refine((v) => v !== 0, 'not 0'),
  note: z.string().trim().max(200).optional(),
});

export const priceModelParam = modelName;

const usageFilter = {
  user_id: z.coerce.number().int().positive().optional(),
  token_id: z.coerce.number().int().positive().optional(),
  channel_id: z.coerce.number().int().positive().optional(),
  model: modelName.optional(),
};

/** GET /api/logs. Query times are ISO 8601 or Unix seconds (strings in a query). */
export const logsQuerySchema = z.object({
  ...pagination,
  ...usageFilter,
  from: queryTime(),
  to: queryTime(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  type: z.enum(['consume', 'topup', 'adjust', 'reconcile']).optional(),
  request_id: z.string().max(128).optional(),
});

/** GET /api/stats. */
export const statsQuerySchema = z.object({ ...usageFilter, from: queryTime(), to: queryTime() });

/** GET /api/dashboard: a time range (default: the last 24 h by hour, or 30 days by day). */
export const dashboardQuerySchema = z.object({
  from: queryTime(),
  to: queryTime(),
  bucket: z.enum(['hour', 'day']).default('hour'),
  user_id: usageFilter.user_id,
  top: z.coerce.number().int().min(1).max(50).default(10),
});

/** The latest time a Date can hold (ms): a later one cannot be shown or bucketed. */
const MAX_TIME_MS = 8_640_000_000_000_000;

/** A query-string time: digits are Unix seconds, anything else an ISO 8601 time. */
function queryTime() {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
      if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) {
        ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time (2027-01-31T00:00:00Z) or Unix seconds' });
        return z.NEVER;
      }
      return ms;
    });
}

export type PriceInput = z.output<typeof priceSchema>;
export type GroupInput = z.output<typeof groupSchema>;
export type QuotaAdjustInput = z.output<typeof quotaAdjustSchema>;
export type LogsQuery = z.output<typeof logsQuerySchema>;
export type StatsQuery = z.output<typeof statsQuerySchema>;
export type DashboardQuery = z.output<typeof dashboardQuerySchema>;
