import { pino, type Logger } from 'pino';
import { Gateway } from '../../lib/app.js';
import { loadConfig } from '../../lib/config/config.js';
import type { PriceCatalogue } from '../../lib/billing/price-catalogue.js';
import { seededRandom } from '../../lib/routing/channel-selector.js';
import { callJson, type JsonAnswer } from './http.js';
import { createTestDatabase, type Driver, type TestDatabase } from './databases.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestGateway {
  url: string;
  gateway: Gateway;
  db: TestDatabase;
  /** Calls the admin API as root. */
  admin(method: string, path: string, body?: unknown): Promise<JsonAnswer>;
  /** Creates a channel and returns its JSON. */
  channel(fields: Record<string, unknown>): Promise<any>;
  /** Creates a token and returns its JSON (with `key`). */
  token(fields?: Record<string, unknown>): Promise<any>;
  stop(): Promise<void>;
}

/** Starts a gateway in this process on a free 127.0.0.1 port, with a database of its own. */
export async function startTestGateway(
  opts: {
    driver?: Driver;
    env?: Record<string, string>;
    adminToken?: string | null;
    seed?: number;
    /** A database to start on again (a restart); `stop()` then leaves it to its owner. */
    db?: TestDatabase;
    priceCatalogue?: PriceCatalogue;
    consoleDir?: string;
    /** A logger of the test's own (to read what the gateway logs); default silent, or TEST_LOG_LEVEL. */
    logger?: Logger;
  } = {},
): Promise<TestGateway> {
  const db = opts.db ?? (await createTestDatabase(opts.driver ?? 'sqlite'));
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: db.dataDir,
    LOG_LEVEL: 'silent',
    LOG_PRETTY: 'false',
    SECRET_KEY: 'test-secret-key-0123456789',
    // Tests about routing need no prices; billing tests set prices and turn this off.
    ALLOW_UNPRICED_MODELS: 'true',
    // Tests price what they use; the catalogue's seeding is tested on its own (SEED_PRICES=true).
    SEED_PRICES: 'false',
    ...(opts.adminToken === null ? {} : { ADMIN_TOKEN: opts.adminToken ?? ADMIN_TOKEN }),
    ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : {}),
    ...opts.env,
  };
  const config = loadConfig(env, false);
  const gateway = new Gateway(config, {
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    sqliteFile: db.sqliteFile,
    defaultMetrics: false,
    random: opts.seed === undefined ? undefined : seededRandom(opts.seed),
    priceCatalogue: opts.priceCatalogue,
    consoleDir: opts.consoleDir,
  });
  const address = await gateway.start();
  const url = `http://127.0.0.1:${address.port}`;
  const admin = (method: string, path: string, body?: unknown) =>
    callJson(url, ADMIN_TOKEN, method, path, body);
  return {
    url,
    gateway,
    db,
    admin,
    async channel(fields) {
      const r = await admin('POST', '/api/channels', { key: 'sk-upstream-test-key', ...fields });
      if (r.status !== 201) throw new Error(`channel create failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.data;
    },
    async token(fields = {}) {
      const r = await admin('POST', '/api/tokens', {
        name: `t-${Math.random().toString(36).slice(2)}`,
        ...fields,
      });
      if (r.status !== 201) throw new Error(`token create failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.data;
    },
    async stop() {
      await gateway.stop();
      if (!opts.db) await db.drop();
    },
  };
}
