import type { Dialect } from './knex.js';

/** The roll-up's bucket: a UTC hour (aligned on the Unix epoch). */
export const HOUR_MS = 3_600_000;

/** What a usage row brings to the roll-up (a `UsageRecord` has these fields). */
export interface RolledUsage {
  type: string;
  createdAt: number;
  userId: number;
  tokenId: number | null;
  channelId: number | null;
  model: string | null;
  status: number;
  promptTokens: number;
  completionTokens: number;
  quota: number;
}

/**
 * What a batch adds to one row of `usage_hourly`. "No token" and "no channel" are 0 and "no
 * model" is '' there (see the migration that creates it): the unique key never matches NULLs.
 */
export interface HourlyDelta {
  hour: number;
  userId: number;
  tokenId: number;
  channelId: number;
  model: string;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  quota: number;
}

/**
 * Sums the relayed requests (`consume` rows) of `rows` per roll-up key; other rows are left
 * out. Keyed by `hour|user|token|channel|model` (the model last, so the key is unambiguous).
 */
export function hourlyDeltas(rows: Iterable<RolledUsage>): Map<string, HourlyDelta> {
  const out = new Map<string, HourlyDelta>();
  for (const u of rows) {
    if (u.type !== 'consume') continue;
    const hour = Math.floor(u.createdAt / HOUR_MS) * HOUR_MS;
    const tokenId = u.tokenId ?? 0;
    const channelId = u.channelId ?? 0;
    const model = u.model ?? '';
    const key = `${hour}|${u.userId}|${tokenId}|${channelId}|${model}`;
    let d = out.get(key);
    if (!d) {
      d = {
        hour,
        userId: u.userId,
        tokenId,
        channelId,
        model,
        requests: 0,
        errors: 0,
        promptTokens: 0,
        completionTokens: 0,
        quota: 0,
      };
      out.set(key, d);
    }
    d.requests += 1;
    if (u.status >= 400) d.errors += 1;
    d.promptTokens += u.promptTokens;
    d.completionTokens += u.completionTokens;
    d.quota += u.quota;
  }
  return out;
}

const KEY = ['hour', 'user_id', 'token_id', 'channel_id', 'model'];
const SUMS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'quota'];

/** An `INSERT` of `n` roll-up rows that adds to the rows already there (`?` placeholders, see {@link hourlyParams}). */
export function hourlyUpsertSql(dialect: Dialect, n: number): string {
  const row = `(${[...KEY, ...SUMS].map(() => '?').join(', ')})`;
  const insert = `INSERT INTO usage_hourly (${[...KEY, ...SUMS].join(', ')}) VALUES ${Array<string>(n).fill(row).join(', ')}`;
  return dialect === 'sqlite'
    ? `${insert} ON CONFLICT (${KEY.join(', ')}) DO UPDATE SET ${SUMS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`
    : `${insert} ON DUPLICATE KEY UPDATE ${SUMS.map((c) => `${c} = ${c} + VALUES(${c})`).join(', ')}`;
}

/** The placeholders' values of one row of {@link hourlyUpsertSql}. */
export function hourlyParams(d: HourlyDelta): (number | string)[] {
  return [
    d.hour,
    d.userId,
    d.tokenId,
    d.channelId,
    d.model,
    d.requests,
    d.errors,
    d.promptTokens,
    d.completionTokens,
    d.quota,
  ];
}

/**
 * A dashboard range split where the roll-up can answer it: `hours`, the whole UTC hours inside
 * [from, to) from `completeFrom` on (the roll-up's mark: it lacks rows before it; none when
 * there is no such hour), and `edges`, the rest of the range before and after them, which only
 * the usage rows can answer.
 */
export function splitRange(
  from: number,
  to: number,
  completeFrom = 0,
): { hours?: [number, number]; edges: [number, number][] } {
  const first = Math.max(Math.ceil(from / HOUR_MS), Math.ceil(completeFrom / HOUR_MS)) * HOUR_MS;
  const last = Math.floor(to / HOUR_MS) * HOUR_MS;
  if (first >= last) return { edges: from < to ? [[from, to]] : [] };
  const edges: [number, number][] = [];
  if (from < first) edges.push([from, first]);
  if (last < to) edges.push([last, to]);
  return { hours: [first, last], edges };
}
