import net from 'node:net';
import { z } from 'zod';
import { BadRequestError } from '../errors/bad-request.error.js';

/**
 * Validates `input` against `schema`; on failure throws a 400 that names the field (`param`)
 * and says what is wrong with it, e.g. `weight: Too small: expected number to be >=0`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  let path = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...issue.path.map(String), issue.keys[0]].join('.');
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  }
  throw new BadRequestError(path ? `${path}: ${message}` : message, {
    param: path || null,
    code: 'invalid_value',
  });
}

/** Removes read-only fields a client may echo back from a GET before a PATCH. */
export function withoutReadOnly(body: unknown, fields: readonly string[]): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const f of fields) delete copy[f];
  return copy;
}

export const groupName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a group name: 1-64 letters, digits, _ . -');
export const modelName = z.string().trim().min(1).max(128);

/** An id in a URL path. */
export const idParam = z.coerce.number().int().positive();

/** `page` (from 1) and `per_page` (1-100, default 20) of every list. */
export const pagination = {
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(100).default(20),
};

/** An IPv4/IPv6 address or CIDR subnet, normalised to `address/prefix`. */
export const cidr = z.string().transform((value, ctx) => {
  const [addr, prefixText, extra] = value.trim().split('/');
  const family = net.isIP(addr ?? '');
  const max = family === 6 ? 128 : 32;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not an IP address or CIDR subnet like 10.0.0.0/8`,
    });
    return z.NEVER;
  }
  return `${addr}/${prefix}`;
});

const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/** A time as an ISO 8601 string or Unix seconds, returned as epoch milliseconds. */
export const timestamp = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value * 1000 : Date.parse(value);
  // Up to the end of year 9999: every store and every ISO date can hold it.
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIMESTAMP_MS) {
    ctx.addIssue({
      code: 'custom',
      message: 'an ISO 8601 time (2027-01-31T00:00:00Z) or Unix seconds, at most 9999-12-31T23:59:59Z',
    });
    return z.NEVER;
  }
  return ms;
});

/** Epoch milliseconds as the API shows them. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** An input's fields renamed by `names` (API name → repository field); fields not given stay absent. */
export type Renamed<I, N extends Record<string, string>> = {
  [K in keyof I as K extends keyof N ? N[K] : K]: I[K];
};

/**
 * Renames an input's fields to the repository's (`base_url` → `baseUrl`), dropping absent ones,
 * so an input schema's output is the repository's values without a line per field.
 */
export function renameFields<I extends object, const N extends Record<string, string>>(
  input: I,
  names: N,
): Renamed<I, N> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) out[names[k] ?? k] = v;
  return out as Renamed<I, N>;
}
