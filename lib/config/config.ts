import os from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../errors/config.error.js';
import { parseAutoDisableRules, type AutoDisableRules } from '../relay/upstream-failure.js';
import type { BreakerOptions } from '../routing/channel-health.js';
import { envDeclarations, type EnvName } from './env.declarations.js';

type Decls = typeof envDeclarations;
type Parsed = { [K in EnvName]: z.output<Decls[K]['schema']> };

/** The validated settings of one process. Built once by {@link loadConfig}. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** MySQL/MariaDB time limits (DB_STATEMENT_TIMEOUT, DB_TRANSACTION_TIMEOUT). */
  dbLimits: { statementTimeoutMs: number; transactionTimeoutMs: number };
  dataDir: string;
  nodeId: string;
  secretKey: string | undefined;
  adminToken: string | undefined;
  logLevel: Parsed['LOG_LEVEL'];
  logPretty: boolean;
  maxBodyBytes: number;
  /** Client-side limits of the HTTP server (slow or idle clients, connection count, JSON shape). */
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
    maxJsonDepth: number;
    maxAdminBodyBytes: number;
    /** Origins allowed to call /v1 from a browser; '*' for any; empty: no CORS. */
    corsOrigins: string[];
    metricsToken: string | undefined;
  };
  retryTimes: number;
  upstream: {
    connectTimeoutMs: number;
    firstByteTimeoutMs: number;
    idleTimeoutMs: number;
    totalTimeoutMs: number;
    denyPrivate: boolean;
    allow: string[];
  };
  resilience: {
    rateLimitCooldownMs: number;
    breaker: BreakerOptions;
    autoDisableOn: AutoDisableRules;
    channelTestEveryMs: number;
    channelTestTimeoutMs: number;
  };
  shutdownTimeoutMs: number;
  tokenCache: { size: number; ttlMs: number };
  configPollMs: number;
  /** Applied versions kept for GET /api/cluster/applies (0: none). */
  configApplyLog: number;
  /** 'single' without NODE_TYPE. */
  role: 'single' | 'master' | 'slave';
  redisUrl: string | undefined;
  redisPrefix: string;
  masterUrl: string | undefined;
  resyncEveryMs: number;
  heartbeatEveryMs: number;
  cacheMaxTtlMs: number;
  configLogKeep: number;
  trustProxy: boolean | number | string;
  billing: {
    enabled: boolean;
    allowUnpriced: boolean;
    /** Seed the default price catalogue at start (single node or master). */
    seedPrices: boolean;
    reserveCompletionTokens: number;
    holdTtlMs: number;
    usageFlushEveryMs: number;
    adminRateLimit: number;
  };
  /** The web console's sign-in: password policy, session lifetimes, attempt limits. */
  console: {
    passwordMinLength: number;
    sessionIdleMs: number;
    sessionMaxAgeMs: number;
    loginMaxAttempts: number;
    loginWindowMs: number;
  };
}

/**
 * Reads and validates the environment: the only place in Switchyard that reads `process.env`.
 * Throws a {@link ConfigError} naming every variable that is wrong.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  isTty = Boolean(process.stdout.isTTY),
): Config {
  const values: Partial<Parsed> = {};
  const problems: string[] = [];
  for (const [name, decl] of Object.entries(envDeclarations) as [EnvName, Decls[EnvName]][]) {
    const raw = env[name] === '' ? undefined : env[name];
    const result = decl.schema.safeParse(raw ?? decl.default);
    if (result.success) {
      (values as Record<string, unknown>)[name] = result.data;
    } else {
      const issue = result.error.issues[0];
      problems.push(`${name}=${JSON.stringify(raw ?? '')}: ${issue?.message ?? 'invalid'}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid environment. Fix: ${problems.join('; ')}`);
  }
  const v = values as Parsed;
  checkCombination(v);
  return {
    port: v.PORT,
    host: v.HOST,
    databaseUrl: v.DATABASE_URL,
    dbLimits: { statementTimeoutMs: v.DB_STATEMENT_TIMEOUT, transactionTimeoutMs: v.DB_TRANSACTION_TIMEOUT },
    dataDir: v.DATA_DIR,
    nodeId: v.NODE_ID ?? `${os.hostname()}:${v.PORT}`,
    secretKey: v.SECRET_KEY,
    adminToken: v.ADMIN_TOKEN,
    logLevel: v.LOG_LEVEL,
    logPretty: v.LOG_PRETTY ?? isTty,
    maxBodyBytes: v.MAX_BODY,
    http: {
      // node requires the headers' timeout to be within the whole request's.
      headersTimeoutMs: Math.min(v.HTTP_HEADERS_TIMEOUT, v.HTTP_REQUEST_TIMEOUT),
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT,
      keepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT,
      maxConnections: v.MAX_CONNECTIONS,
      maxJsonDepth: v.MAX_JSON_DEPTH,
      maxAdminBodyBytes: v.MAX_ADMIN_BODY,
      corsOrigins: v.CORS_ORIGINS,
      metricsToken: v.METRICS_TOKEN,
    },
    retryTimes: v.RETRY_TIMES,
    upstream: {
      connectTimeoutMs: v.UPSTREAM_CONNECT_TIMEOUT_MS,
      firstByteTimeoutMs: v.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      idleTimeoutMs: v.UPSTREAM_IDLE_TIMEOUT_MS,
      totalTimeoutMs: v.UPSTREAM_TOTAL_TIMEOUT_MS,
      denyPrivate: v.UPSTREAM_DENY_PRIVATE,
      allow: v.UPSTREAM_ALLOW,
    },
    resilience: {
      rateLimitCooldownMs: v.RATE_LIMIT_COOLDOWN,
      breaker: {
        windowMs: v.BREAKER_WINDOW,
        minRequests: v.BREAKER_MIN_REQUESTS,
        failureRate: v.BREAKER_FAILURE_RATE,
        openMs: v.BREAKER_OPEN,
        openMaxMs: Math.max(v.BREAKER_OPEN, v.BREAKER_OPEN_MAX),
      },
      autoDisableOn: parseAutoDisableRules(v.AUTO_DISABLE_ON),
      channelTestEveryMs: v.CHANNEL_TEST_EVERY,
      channelTestTimeoutMs: v.CHANNEL_TEST_TIMEOUT,
    },
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    tokenCache: { size: v.TOKEN_CACHE_SIZE, ttlMs: v.TOKEN_CACHE_TTL_MS },
    configPollMs: v.CONFIG_POLL_MS,
    configApplyLog: v.CONFIG_APPLY_LOG,
    role: v.NODE_TYPE ?? 'single',
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_PREFIX,
    masterUrl: v.MASTER_URL,
    resyncEveryMs: v.RESYNC_EVERY,
    heartbeatEveryMs: v.HEARTBEAT_EVERY,
    cacheMaxTtlMs: v.CACHE_MAX_TTL,
    configLogKeep: v.CONFIG_LOG_KEEP,
    trustProxy: parseTrustProxy(v.TRUST_PROXY),
    billing: {
      enabled: v.BILLING,
      allowUnpriced: v.ALLOW_UNPRICED_MODELS,
      seedPrices: v.SEED_PRICES,
      reserveCompletionTokens: v.QUOTA_RESERVE_TOKENS,
      holdTtlMs: v.QUOTA_HOLD_TTL,
      usageFlushEveryMs: v.USAGE_FLUSH_EVERY,
      adminRateLimit: v.ADMIN_RATE_LIMIT,
    },
    console: {
      passwordMinLength: v.PASSWORD_MIN_LENGTH,
      sessionIdleMs: v.SESSION_IDLE_TIMEOUT,
      sessionMaxAgeMs: Math.max(v.SESSION_MAX_AGE, v.SESSION_IDLE_TIMEOUT),
      loginMaxAttempts: v.LOGIN_MAX_ATTEMPTS,
      loginWindowMs: v.LOGIN_WINDOW,
    },
  };
}

/** Settings that are each valid but cannot work together; the message names what to change. */
function checkCombination(v: Parsed): void {
  if (v.NODE_TYPE) {
    if (!v.DATABASE_URL) {
      throw new ConfigError(
        `Set DATABASE_URL to a mysql:// URL when NODE_TYPE=${v.NODE_TYPE}: cluster nodes share one MySQL/MariaDB database (SQLite is single-node only)`,
      );
    }
    if (!v.REDIS_URL) {
      throw new ConfigError(
        `Set REDIS_URL when NODE_TYPE=${v.NODE_TYPE}: cluster nodes learn of each other's config changes through Redis`,
      );
    }
    if (!v.SECRET_KEY) {
      throw new ConfigError(`Set SECRET_KEY (the same on every node) when NODE_TYPE=${v.NODE_TYPE}`);
    }
  } else if (v.REDIS_URL) {
    throw new ConfigError(
      'Set NODE_TYPE=master or NODE_TYPE=slave to run in a cluster with REDIS_URL (or unset REDIS_URL for a single node)',
    );
  }
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** The README's environment table, generated from the declarations. */
export function envTableMarkdown(): string {
  const rows = Object.values(envDeclarations).map(
    (d) => `| \`${d.name}\` | ${d.default === undefined ? '' : `\`${d.default}\``} | ${d.doc} |`,
  );
  return ['| variable | default | what it does |', '| --- | --- | --- |', ...rows].join('\n');
}
