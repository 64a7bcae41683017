import net from 'node:net';
import { z } from 'zod';

/**
 * One declaration per environment variable: its name, default, the line the README's table shows,
 * and the schema that validates it. This list is the only description of Switchyard's settings;
 * `test/unit/config.test.ts` checks the README's table against it.
 */
export interface EnvDeclaration<S extends z.ZodType = z.ZodType> {
  name: string;
  /** The default as the user would type it; undefined = unset by default. */
  default?: string;
  doc: string;
  schema: S;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
/** A number with an optional unit ("20mb", "30s"), converted to the base unit the table maps to 1. */
function withUnit(
  units: Record<string, number>,
  base: string,
  example: string,
  round: (n: number) => number,
) {
  const pattern = new RegExp(`^(\\d+(?:\\.\\d+)?)\\s*(${Object.keys(units).join('|')})?$`, 'i');
  return z
    .string()
    .regex(pattern, example)
    .transform((v) => {
      const m = pattern.exec(v)!;
      return round(Number(m[1]) * units[(m[2] ?? base).toLowerCase()]!);
    });
}
const duration = withUnit(
  { ms: 1, s: 1000, m: 60_000, h: 3_600_000 },
  'ms',
  'a duration like 30s, 500ms, 2m or a number of milliseconds',
  Math.round,
).refine((ms) => ms >= 100, 'at least 100ms');
const byteSize = withUnit(
  { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 },
  'b',
  'a size like 20mb, 512kb or 1048576',
  Math.floor,
);

/** A comma-separated list: its items trimmed, empty ones dropped. */
const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

function declare<S extends z.ZodType>(d: EnvDeclaration<S>): EnvDeclaration<S> {
  return d;
}

export const envDeclarations = {
  PORT: declare({ name: 'PORT', default: '3000', doc: 'HTTP port to listen on.', schema: int(0, 65535) }),
  HOST: declare({
    name: 'HOST',
    default: '0.0.0.0',
    doc: 'Address to bind (use 127.0.0.1 to keep the gateway local).',
    schema: z.string().min(1),
  }),
  DATABASE_URL: declare({
    name: 'DATABASE_URL',
    doc: 'A mysql:// URL for MySQL/MariaDB. Unset: SQLite under DATA_DIR.',
    schema: z
      .string()
      .regex(/^mysql2?:\/\//, 'a mysql:// URL (unset it to use SQLite)')
      .optional(),
  }),
  DB_STATEMENT_TIMEOUT: declare({
    name: 'DB_STATEMENT_TIMEOUT',
    default: '10s',
    doc: 'MySQL/MariaDB: longest a statement may run (on the server, and waited for by the node, whose connection is then dropped).',
    schema: duration,
  }),
  DB_TRANSACTION_TIMEOUT: declare({
    name: 'DB_TRANSACTION_TIMEOUT',
    default: '15s',
    doc: 'MySQL/MariaDB: a transaction not done this long after its start is rolled back, never committed late.',
    schema: duration,
  }),
  NODE_TYPE: declare({
    name: 'NODE_TYPE',
    doc: 'Cluster role: master (takes admin writes) or slave (a read-only replica). Unset: a single node.',
    schema: z.enum(['master', 'slave']).optional(),
  }),
  REDIS_URL: declare({
    name: 'REDIS_URL',
    doc: 'A redis:// URL: the shared cache (L2), invalidation pub/sub and job queues. Required with NODE_TYPE.',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
      .optional(),
  }),
  REDIS_PREFIX: declare({
    name: 'REDIS_PREFIX',
    default: 'sy',
    doc: 'Prefix of every Redis key and channel of this cluster (sy:cfg:version, sy:bull:…).',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits and _ . - (at most 64)'),
  }),
  MASTER_URL: declare({
    name: 'MASTER_URL',
    doc: "The master's URL, named in the 403 a replica answers to an admin write (e.g. http://master:3000).",
    schema: z.string().url().optional(),
  }),
  DATA_DIR: declare({
    name: 'DATA_DIR',
    default: './data',
    doc: 'Folder for the SQLite database and the generated secret key (single node).',
    schema: z.string().min(1),
  }),
  NODE_ID: declare({
    name: 'NODE_ID',
    doc: "This node's stable name in status and logs. Default: hostname:PORT.",
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - (at most 64)')
      .optional(),
  }),
  SECRET_KEY: declare({
    name: 'SECRET_KEY',
    doc: 'Encrypts channel keys at rest (any string of 16+ characters). Unset on a single node: generated once into DATA_DIR/secret.key.',
    schema: z.string().min(16, 'at least 16 characters').optional(),
  }),
  ADMIN_TOKEN: declare({
    name: 'ADMIN_TOKEN',
    doc: 'Root admin token for the admin API. Unset: the first start creates one and prints it once.',
    schema: z.string().min(16, 'at least 16 characters').optional(),
  }),
  LOG_LEVEL: declare({
    name: 'LOG_LEVEL',
    default: 'info',
    doc: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  LOG_PRETTY: declare({
    name: 'LOG_PRETTY',
    doc: 'true: human-readable logs; false: JSON lines. Default: pretty when stdout is a terminal.',
    schema: bool.optional(),
  }),
  MAX_BODY: declare({
    name: 'MAX_BODY',
    default: '20mb',
    doc: 'Largest accepted request body.',
    schema: byteSize,
  }),
  HTTP_HEADERS_TIMEOUT: declare({
    name: 'HTTP_HEADERS_TIMEOUT',
    default: '20s',
    doc: "How long a client may take to send a request's headers (from its connection, or the end of its previous request); then 408 and the socket is closed.",
    schema: duration,
  }),
  HTTP_REQUEST_TIMEOUT: declare({
    name: 'HTTP_REQUEST_TIMEOUT',
    default: '60s',
    doc: 'How long a client may take to send a whole request, headers and body; then 408 and the socket is closed. Answers (streams) are not limited by it.',
    schema: duration,
  }),
  HTTP_KEEP_ALIVE_TIMEOUT: declare({
    name: 'HTTP_KEEP_ALIVE_TIMEOUT',
    default: '65s',
    doc: "How long an idle keep-alive connection stays open after an answer (longer than a load balancer's idle timeout).",
    schema: duration,
  }),
  MAX_CONNECTIONS: declare({
    name: 'MAX_CONNECTIONS',
    default: '10000',
    doc: 'Open client connections one node accepts; more are closed at once and counted in http_connections_refused_total.',
    schema: int(1, 1_000_000),
  }),
  MAX_JSON_DEPTH: declare({
    name: 'MAX_JSON_DEPTH',
    default: '64',
    doc: 'Deepest nesting of arrays and objects accepted in a JSON body (/v1 and /api); deeper is a 400 before the body is parsed.',
    schema: int(1, 10_000),
  }),
  MAX_ADMIN_BODY: declare({
    name: 'MAX_ADMIN_BODY',
    default: '1mb',
    doc: 'Largest accepted admin API (/api) request body; larger is a 413 and the connection is closed without reading the rest.',
    schema: byteSize,
  }),
  UPSTREAM_DENY_PRIVATE: declare({
    name: 'UPSTREAM_DENY_PRIVATE',
    default: 'false',
    doc: 'true: never connect upstream (relay, channel tests, model lists) to loopback, private, link-local (cloud metadata) or reserved addresses, checked on the resolved address. Off by default: self-hosted gateways often front a local model server.',
    schema: bool,
  }),
  UPSTREAM_ALLOW: declare({
    name: 'UPSTREAM_ALLOW',
    default: '',
    doc: 'Comma-separated addresses or CIDRs always allowed upstream, even with UPSTREAM_DENY_PRIVATE=true (e.g. a LAN model server 10.0.5.0/24).',
    schema: commaList.refine(
      (items) =>
        items.every((i) => {
          const [addr = '', bits] = i.split('/');
          const family = net.isIP(addr);
          return (
            family !== 0 &&
            (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32)))
          );
        }),
      'comma-separated IP addresses or CIDRs like 10.0.5.0/24',
    ),
  }),
  CORS_ORIGINS: declare({
    name: 'CORS_ORIGINS',
    default: '',
    doc: 'Browser origins allowed to call /v1 (CORS): a comma-separated list like https://app.example.com, or * for any. Empty: no CORS headers. Credentials (cookies) are never allowed.',
    schema: commaList.refine(
      (items) => items.every((i) => i === '*' || /^https?:\/\/[^/\s]+$/i.test(i)),
      'a comma-separated list of origins like https://app.example.com (scheme and host, no path), or *',
    ),
  }),
  METRICS_TOKEN: declare({
    name: 'METRICS_TOKEN',
    doc: 'When set, /metrics requires "Authorization: Bearer <METRICS_TOKEN>". Unset: /metrics is open (keep it off the public network).',
    schema: z.string().min(16, 'at least 16 characters').optional(),
  }),
  RETRY_TIMES: declare({
    name: 'RETRY_TIMES',
    default: '2',
    doc: 'Retries on other channels after a failed upstream attempt (connect error, timeout, 429, 5xx).',
    schema: int(0, 20),
  }),
  UPSTREAM_CONNECT_TIMEOUT_MS: declare({
    name: 'UPSTREAM_CONNECT_TIMEOUT_MS',
    default: '10000',
    doc: 'Time allowed to open a connection to an upstream.',
    schema: int(1, 600_000),
  }),
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: declare({
    name: 'UPSTREAM_FIRST_BYTE_TIMEOUT_MS',
    default: '120000',
    doc: "Time allowed for an upstream's response headers after the request is sent.",
    schema: int(1, 3_600_000),
  }),
  UPSTREAM_IDLE_TIMEOUT_MS: declare({
    name: 'UPSTREAM_IDLE_TIMEOUT_MS',
    default: '120000',
    doc: 'Longest silence allowed between two chunks of an upstream body.',
    schema: int(1, 3_600_000),
  }),
  UPSTREAM_TOTAL_TIMEOUT_MS: declare({
    name: 'UPSTREAM_TOTAL_TIMEOUT_MS',
    default: '180000',
    doc: 'Budget for all attempts of one request together, until its answer starts reaching the client; past it the client gets 504.',
    schema: int(1, 3_600_000),
  }),
  RATE_LIMIT_COOLDOWN: declare({
    name: 'RATE_LIMIT_COOLDOWN',
    default: '5s',
    doc: 'How long a 429 without Retry-After takes the (channel, model) out of routing.',
    schema: duration,
  }),
  BREAKER_WINDOW: declare({
    name: 'BREAKER_WINDOW',
    default: '60s',
    doc: "Circuit breaker: the sliding window over which a (channel, model)'s failure rate (5xx, timeouts, connection errors) is measured.",
    schema: duration,
  }),
  BREAKER_MIN_REQUESTS: declare({
    name: 'BREAKER_MIN_REQUESTS',
    default: '5',
    doc: 'Circuit breaker: attempts within the window before the failure rate can open it.',
    schema: int(1, 1_000_000),
  }),
  BREAKER_FAILURE_RATE: declare({
    name: 'BREAKER_FAILURE_RATE',
    default: '0.5',
    doc: 'Circuit breaker: the failure rate (0-1) at which it opens.',
    schema: z.coerce.number().gt(0).max(1),
  }),
  BREAKER_OPEN: declare({
    name: 'BREAKER_OPEN',
    default: '30s',
    doc: 'Circuit breaker: how long it stays open before one probe request is let through (half-open); doubled after each failed probe.',
    schema: duration,
  }),
  BREAKER_OPEN_MAX: declare({
    name: 'BREAKER_OPEN_MAX',
    default: '10m',
    doc: 'Circuit breaker: the longest it stays open.',
    schema: duration,
  }),
  AUTO_DISABLE_ON: declare({
    name: 'AUTO_DISABLE_ON',
    default:
      '401,403,invalid_api_key,insufficient_quota,account_deactivated,billing_not_active,billing_hard_limit_reached,access_terminated,organization_deactivated,credit balance is too low',
    doc: "Upstream answers that auto-disable a channel, comma-separated: an HTTP status, or a text matched (ignoring case) against the error's code, type and message; `none`: never.",
    schema: z.string(),
  }),
  CHANNEL_TEST_EVERY: declare({
    name: 'CHANNEL_TEST_EVERY',
    default: '10m',
    doc: 'Interval of the channel-test job: tests every enabled and auto-disabled channel, re-enables auto-disabled ones that pass; 0 turns it off.',
    schema: z.union([z.literal('0').transform(() => 0), duration]),
  }),
  CHANNEL_TEST_TIMEOUT: declare({
    name: 'CHANNEL_TEST_TIMEOUT',
    default: '30s',
    doc: 'Longest a channel test waits for its answer.',
    schema: duration,
  }),
  SHUTDOWN_TIMEOUT_MS: declare({
    name: 'SHUTDOWN_TIMEOUT_MS',
    default: '15000',
    doc: 'On SIGTERM, how long in-flight requests may take to finish before the process exits.',
    schema: int(0, 600_000),
  }),
  TOKEN_CACHE_SIZE: declare({
    name: 'TOKEN_CACHE_SIZE',
    default: '50000',
    doc: 'Tokens and users kept in the in-process cache.',
    schema: int(1, 10_000_000),
  }),
  TOKEN_CACHE_TTL_MS: declare({
    name: 'TOKEN_CACHE_TTL_MS',
    default: '600000',
    doc: 'Longest time a cached token or user lives before it is re-read (a last resort; changes apply at once).',
    schema: int(1000, 86_400_000),
  }),
  CONFIG_POLL_MS: declare({
    name: 'CONFIG_POLL_MS',
    default: '5000',
    doc: 'How often a node compares its config version with the database (±20% jitter): the bound for picking up writes made elsewhere.',
    schema: int(100, 3_600_000),
  }),
  CONFIG_APPLY_LOG: declare({
    name: 'CONFIG_APPLY_LOG',
    default: '0',
    doc: 'How many of the last applied config versions a node keeps, with when it applied each, for GET /api/cluster/applies (the sync benchmark sets it); 0 keeps none.',
    schema: int(0, 100_000),
  }),
  RESYNC_EVERY: declare({
    name: 'RESYNC_EVERY',
    default: '30s',
    doc: 'Cluster: interval of the config-resync job (heals the Redis cache, publishes a version beacon, records lag).',
    schema: duration,
  }),
  HEARTBEAT_EVERY: declare({
    name: 'HEARTBEAT_EVERY',
    default: '2s',
    doc: 'Cluster: how often a node writes its heartbeat (sy:node:{id}); it expires after 3 beats.',
    schema: duration,
  }),
  CACHE_MAX_TTL: declare({
    name: 'CACHE_MAX_TTL',
    default: '1h',
    doc: 'Cluster: longest life of a Redis cache entry (a last resort; entries are replaced by version).',
    schema: duration,
  }),
  CONFIG_LOG_KEEP: declare({
    name: 'CONFIG_LOG_KEEP',
    default: '100000',
    doc: 'How many of the newest config_changes rows the resync job keeps (older ones are trimmed).',
    schema: int(1000, 100_000_000),
  }),
  BILLING: declare({
    name: 'BILLING',
    default: 'true',
    doc: 'Prices, quota, rate limits and usage logs on /v1 requests. false makes the gateway a plain relay (nothing is charged, limited or logged to usage_logs).',
    schema: bool,
  }),
  ALLOW_UNPRICED_MODELS: declare({
    name: 'ALLOW_UNPRICED_MODELS',
    default: 'false',
    doc: 'Relay models that have no price (and no `*` default price), charged 0 and logged, instead of refusing them with 403 model_not_priced.',
    schema: bool,
  }),
  SEED_PRICES: declare({
    name: 'SEED_PRICES',
    default: 'true',
    doc: 'At start, write the default price catalogue (lib/billing/catalogue/prices.json) as ordinary prices: each model once, ever, so prices an admin changed or deleted stay so. The single node or the master seeds. false: never.',
    schema: bool,
  }),
  QUOTA_RESERVE_TOKENS: declare({
    name: 'QUOTA_RESERVE_TOKENS',
    default: '1024',
    doc: 'Completion tokens held (priced, against quota and TPM) for a request without max_tokens, until it settles.',
    schema: int(0, 10_000_000),
  }),
  QUOTA_HOLD_TTL: declare({
    name: 'QUOTA_HOLD_TTL',
    default: '30m',
    doc: "Cluster: a quota hold older than this is refunded even if its node looks alive (a dead node's holds go after 30 s).",
    schema: duration,
  }),
  USAGE_FLUSH_EVERY: declare({
    name: 'USAGE_FLUSH_EVERY',
    default: '1s',
    doc: 'Cluster: interval of the usage-flush job that writes settled charges from Redis to the database.',
    schema: duration,
  }),
  ADMIN_RATE_LIMIT: declare({
    name: 'ADMIN_RATE_LIMIT',
    default: '600',
    doc: 'Requests per minute one client IP may make to the admin API (/api, /admin), counted cluster-wide; 0 turns it off.',
    schema: int(0, 10_000_000),
  }),
  PASSWORD_MIN_LENGTH: declare({
    name: 'PASSWORD_MIN_LENGTH',
    default: '10',
    doc: 'Console sign-in: the shortest password a user may set (the longest is 256 characters).',
    schema: int(8, 256),
  }),
  SESSION_IDLE_TIMEOUT: declare({
    name: 'SESSION_IDLE_TIMEOUT',
    default: '12h',
    doc: 'Console sign-in: a session unused for this long ends (its last use is recorded about once a minute).',
    schema: duration,
  }),
  SESSION_MAX_AGE: declare({
    name: 'SESSION_MAX_AGE',
    default: '168h',
    doc: 'Console sign-in: a session ends this long after sign-in, however much it is used (default 7 days).',
    schema: duration,
  }),
  LOGIN_MAX_ATTEMPTS: declare({
    name: 'LOGIN_MAX_ATTEMPTS',
    default: '10',
    doc: 'Console sign-in: failed attempts allowed per client IP and per username within LOGIN_WINDOW (cluster-wide with Redis); then 429 until the window ends.',
    schema: int(1, 1_000_000),
  }),
  LOGIN_WINDOW: declare({
    name: 'LOGIN_WINDOW',
    default: '15m',
    doc: 'Console sign-in: the window over which failed attempts are counted.',
    schema: duration,
  }),
  TRUST_PROXY: declare({
    name: 'TRUST_PROXY',
    default: 'false',
    doc: 'Express "trust proxy": true, false, a hop count or a list of subnets. Decides the client IP checked against token subnets.',
    schema: z.string().min(1),
  }),
} as const;

export type EnvName = keyof typeof envDeclarations;
