import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { routingDigest } from '../../lib/cfg/routing-index.js';
import { createTestDatabase, uniqueName, type TestDatabase } from './databases.js';
import { callJson, type JsonAnswer } from './http.js';
import { freePort, spawnNode, type SpawnedNode } from './spawn-node.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CLUSTER_ADMIN_TOKEN = 'cluster-admin-token-0123456789';
export const CLUSTER_SECRET = 'cluster-secret-key-0123456789';

export interface TestCluster {
  master: SpawnedNode;
  replicas: SpawnedNode[];
  nodes(): SpawnedNode[];
  db: TestDatabase;
  prefix: string;
  /** A Redis connection of the test's own (not one of the nodes'). */
  redis: Redis;
  /** A MySQL connection to the cluster's database. */
  sql: mysql.Connection;
  env: Record<string, string>;
  /** What the nodes reach MariaDB and Redis through. */
  proxies: { mysql: TcpProxy; redis: TcpProxy };
  admin(node: SpawnedNode, method: string, path: string, body?: unknown): Promise<JsonAnswer>;
  /** Starts (or restarts, on the same port) a replica. */
  startReplica(nodeId: string, port?: number): Promise<SpawnedNode>;
  /** The database's version and the digest of its channels' ids and versions. */
  dbState(): Promise<{ version: number; digest: string }>;
  status(node: SpawnedNode): Promise<any>;
  /** Kills (CLIENT KILL ID) this cluster's connections whose name ends with `suffix` (e.g. ':subscriber'). */
  killConnections(match: (name: string) => boolean): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A master and `replicas` replicas as child processes on 127.0.0.1, with a MariaDB database and
 * a Redis key prefix of their own; `stop()` kills every node by pid and removes both.
 */
export async function startCluster(
  /** `redisUrl`: a Redis of the test's own (test/helpers/private-redis.ts) instead of the shared one. */
  opts: { replicas?: number; env?: Record<string, string>; redisUrl?: string } = {},
): Promise<TestCluster> {
  const db = await createTestDatabase('mysql');
  const prefix = uniqueName('sytest');
  const mysqlUrl = new URL(db.databaseUrl!);
  const redisUrl = new URL(opts.redisUrl ?? REDIS_URL);
  const proxies = {
    mysql: await startTcpProxy({ host: mysqlUrl.hostname, port: Number(mysqlUrl.port || 3306) }),
    redis: await startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }),
  };
  const viaProxy = (url: URL, port: number) => {
    const copy = new URL(url.href);
    copy.port = String(port);
    return copy.href;
  };
  const env: Record<string, string> = {
    DATABASE_URL: viaProxy(mysqlUrl, proxies.mysql.port),
    REDIS_URL: viaProxy(redisUrl, proxies.redis.port).replace(/\/$/, ''),
    REDIS_PREFIX: prefix,
    SECRET_KEY: CLUSTER_SECRET,
    ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN,
    DATA_DIR: db.dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    RESYNC_EVERY: '2s',
    CONFIG_POLL_MS: '1000',
    HEARTBEAT_EVERY: '500ms',
    ...opts.env,
  };
  const redis = new Redis(redisUrl.href, { connectionName: `${prefix}:test`, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // a test may kill its own Redis
  const sql = await mysql.createConnection(db.databaseUrl!);
  const started: SpawnedNode[] = [];
  const replicas: SpawnedNode[] = [];
  let master: SpawnedNode | undefined;
  const cleanup = async () => {
    await Promise.all(started.map((n) => n.stop('SIGKILL').catch(() => {})));
    await deletePrefix(redis, prefix).catch(() => {});
    redis.disconnect();
    await sql.end().catch(() => {});
    await proxies.mysql.close();
    await proxies.redis.close();
    await db.drop();
  };
  try {
    const masterPort = await freePort();
    master = await spawnNode({ ...env, NODE_TYPE: 'master', NODE_ID: 'master', PORT: String(masterPort) });
    started.push(master);
    env.MASTER_URL = master.url;
    const startReplica = async (nodeId: string, port?: number) => {
      const node = await spawnNode({
        ...env,
        NODE_TYPE: 'slave',
        NODE_ID: nodeId,
        ...(port ? { PORT: String(port) } : {}),
      });
      started.push(node);
      return node;
    };
    for (let i = 1; i <= (opts.replicas ?? 2); i++) replicas.push(await startReplica(`replica-${i}`));
    const cluster: TestCluster = {
      master,
      replicas,
      nodes: () => [cluster.master, ...cluster.replicas],
      db,
      prefix,
      redis,
      sql,
      env,
      proxies,
      admin: (node, method, path, body) => callJson(node.url, CLUSTER_ADMIN_TOKEN, method, path, body),
      startReplica,
      async dbState() {
        const [[state]] = (await sql.query('SELECT version FROM config_state WHERE id = 1')) as any;
        const [rows] = (await sql.query('SELECT id, version FROM channels')) as any;
        return {
          version: Number(state.version),
          digest: routingDigest(
            (rows as any[]).map((r) => [Number(r.id), Number(r.version)] as [number, number]),
          ),
        };
      },
      async status(node) {
        return fetch(`${node.url}/api/status`).then((r) => r.json());
      },
      async killConnections(match) {
        const list = String(await redis.client('LIST'));
        let killed = 0;
        for (const line of list.split('\n')) {
          const id = /\bid=(\d+)/.exec(line)?.[1];
          const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
          if (id && name.startsWith(`${prefix}:`) && name !== `${prefix}:test` && match(name)) {
            await redis.client('KILL', 'ID', id).catch(() => {});
            killed++;
          }
        }
        return killed;
      },
      stop: cleanup,
    };
    return cluster;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Deletes every key under `prefix:` (SCAN, never KEYS). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.del(...keys);
  } while (cursor !== '0');
  return n;
}
