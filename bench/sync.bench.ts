/**
 * `npm run bench:sync`: how fast config reaches every node, and what a full resync costs.
 *
 * 1. Propagation: a master and three replicas (compiled, as `npm start` runs them) on MariaDB +
 *    Redis; BENCH_WRITES (500) channel writes on the master, one after the other; every node
 *    reports when it applied each version (`GET /api/cluster/applies`). Propagation = applied
 *    time - commit time, per write and node: p50, p99, max.
 * 2. Full resync with BENCH_CHANNELS (10,000) channels x 20 models: the snapshot read and index
 *    build timed in this process, the index's heap measured (with --expose-gc), then the epoch
 *    is changed so every node resyncs whole, and each node's own resync time is read from its
 *    metrics.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { DbConfigSource } from '../lib/cfg/db-config-source.js';
import { RoutingIndex } from '../lib/cfg/routing-index.js';
import { createDb } from '../lib/db/knex.js';
import { ChannelRepository } from '../lib/db/repositories/channel.repository.js';
import { ConfigStateRepository } from '../lib/db/repositories/config-state.repository.js';
import { GroupRepository } from '../lib/db/repositories/group.repository.js';
import { PriceRepository } from '../lib/db/repositories/price.repository.js';
import { TokenRepository } from '../lib/db/repositories/token.repository.js';
import { UserRepository } from '../lib/db/repositories/user.repository.js';
import { SecretBox } from '../lib/security/secret-box.js';
import { createTestDatabase } from '../test/helpers/databases.js';
import { spawnNode, type SpawnedNode } from '../test/helpers/spawn-node.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const WRITES = Number(process.env.BENCH_WRITES ?? 500);
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 10_000);
const MODELS = 20;
const ADMIN = 'bench-sync-admin-token-0123';
const SECRET = 'bench-sync-secret-key-0123456';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
interface Node extends SpawnedNode {
  id: string;
}

const started: Node[] = [];

/** A node from the compiled build; spawnNode kills it by pid if this process exits first. */
async function startNode(id: string, env: Record<string, string>): Promise<Node> {
  const node = await spawnNode({ ...env, NODE_ID: id, LOG_LEVEL: 'warn' }, 30_000, { compiled: true });
  started.push(Object.assign(node, { id }));
  return started.at(-1)!;
}

const api = (url: string, method: string, p: string, body?: unknown) =>
  fetch(url + p, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => undefined)) as any }));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function resyncSeconds(url: string): Promise<{ sum: number; count: number }> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const sum = Number(/^cfg_resync_duration_seconds_sum (\S+)/m.exec(text)?.[1] ?? 0);
  const count = Number(/^cfg_resync_duration_seconds_count (\S+)/m.exec(text)?.[1] ?? 0);
  return { sum, count };
}

async function main() {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const tdb = await createTestDatabase('mysql');
  const prefix = `sybench_${process.pid}`;
  const redis = new Redis(REDIS_URL);
  const env = {
    DATABASE_URL: tdb.databaseUrl!,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    SECRET_KEY: SECRET,
    ADMIN_TOKEN: ADMIN,
    RESYNC_EVERY: '5s',
    DATA_DIR: tdb.dataDir,
    // Each node keeps when it applied every version of the run, for GET /api/cluster/applies.
    CONFIG_APPLY_LOG: String(WRITES + 100),
  };
  try {
    const master = await startNode('master', { ...env, NODE_TYPE: 'master' });
    const replicas = await Promise.all(
      ['replica-1', 'replica-2', 'replica-3'].map((id) =>
        startNode(id, { ...env, NODE_TYPE: 'slave', MASTER_URL: master.url }),
      ),
    );
    const nodes = [master, ...replicas];
    console.log(`Switchyard sync benchmark: master + ${replicas.length} replicas, ${os.cpus().length} CPUs`);

    // 1. Propagation.
    const before = (await api(master.url, 'GET', '/api/status')).body.version as number;
    const created = (
      await api(master.url, 'POST', '/api/channels', {
        name: 'p-0',
        base_url: 'http://127.0.0.1:9',
        key: 'sk-bench-0123456789',
        models: ['m'],
      })
    ).body.data;
    for (let i = 1; i < WRITES; i++) {
      const r = await api(master.url, 'PATCH', `/api/channels/${created.id}`, {
        weight: i % 100,
        models: ['m', `m-${i % 10}`],
      });
      if (r.status !== 200) throw new Error(`write ${i} failed: ${r.status}`);
    }
    const target = before + WRITES;
    const deadline = Date.now() + 10_000;
    for (const n of nodes) {
      while ((await api(n.url, 'GET', '/api/status')).body.version < target) {
        if (Date.now() > deadline) throw new Error(`${n.id} did not reach version ${target}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const all: number[] = [];
    console.log(`\npropagation, commit -> applied, ${WRITES} writes`);
    for (const n of nodes) {
      const applies = (
        (await api(n.url, 'GET', `/api/cluster/applies?after=${before}`)).body.data as {
          version: number;
          at: number;
          appliedAt: number;
        }[]
      ).filter((a) => a.version <= target);
      const ms = applies.map((a) => a.appliedAt - a.at).sort((a, b) => a - b);
      all.push(...ms);
      console.log(
        `  ${n.id.padEnd(10)} applied ${applies.length}/${WRITES}  p50 ${percentile(ms, 50)} ms  p99 ${percentile(ms, 99)} ms  max ${ms.at(-1)} ms`,
      );
    }
    all.sort((a, b) => a - b);
    console.log(
      `  all nodes  p50 ${percentile(all, 50)} ms  p99 ${percentile(all, 99)} ms  max ${all.at(-1)} ms  (goal: p99 <= 50 ms)`,
    );

    // 2. Full resync of CHANNELS channels x 20 models.
    const db = createDb({ databaseUrl: tdb.databaseUrl, dataDir: tdb.dataDir });
    const box = new SecretBox(SECRET);
    const keyEnc = box.encrypt('sk-bench-resync-0123456789');
    const models = JSON.stringify(Array.from({ length: MODELS }, (_, i) => `model-${i}`));
    const now = Date.now();
    for (let i = 0; i < CHANNELS; i += 1000) {
      const rows = Array.from({ length: Math.min(1000, CHANNELS - i) }, (_, j) => ({
        name: `bulk-${i + j}`,
        type: 'openai',
        base_url: `http://127.0.0.1:${10000 + ((i + j) % 1000)}`,
        key_enc: keyEnc,
        key_masked: 'sk-…6789',
        models,
        groups: JSON.stringify(['default', `g${(i + j) % 10}`]),
        model_mapping: '{}',
        priority: (i + j) % 3,
        weight: 1 + ((i + j) % 5),
        status: 'enabled',
        version: target,
        created_at: now,
        updated_at: now,
      }));
      await db('channels').insert(rows);
    }
    const stateRepo = new ConfigStateRepository(db);
    const source = new DbConfigSource(
      db,
      stateRepo,
      new ChannelRepository(db),
      new TokenRepository(db),
      new UserRepository(db),
      new PriceRepository(db),
      new GroupRepository(db),
    );
    const gc = (globalThis as { gc?: () => void }).gc;
    const times: number[] = [];
    let heapMb = NaN;
    const keep: RoutingIndex[] = [];
    for (let round = 0; round < 3; round++) {
      keep.length = 0;
      gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const t0 = process.hrtime.bigint();
      const snap = await source.snapshot();
      keep.push(RoutingIndex.build(snap.channels, (e) => box.decrypt(e)));
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      snap.channels.length = 0; // the snapshot's rows are garbage once the index is built
      gc?.();
      heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
      if (keep[0]!.size < CHANNELS) throw new Error('index incomplete');
    }
    times.sort((a, b) => a - b);
    console.log(`\nfull resync, ${CHANNELS} channels x ${MODELS} models x 2 groups`);
    console.log(
      `  in this process: snapshot + build median ${times[1]!.toFixed(0)} ms (runs ${times.map((t) => t.toFixed(0)).join(', ')}) (goal <= 1000 ms)`,
    );
    console.log(
      `  routing index heap: ${gc ? `${heapMb.toFixed(1)} MB` : 'run with --expose-gc to measure'} (goal <= 100 MB)`,
    );

    // Every node: a new epoch forces a whole resync.
    const metricsBefore = await Promise.all(nodes.map((n) => resyncSeconds(n.url)));
    await db('config_state')
      .where({ id: 1 })
      .update({ epoch: randomUUID(), version: db.raw('version + 1') });
    const until = Date.now() + 30_000;
    const after: { sum: number; count: number }[] = [];
    for (const [i, n] of nodes.entries()) {
      for (;;) {
        const m = await resyncSeconds(n.url);
        if (
          m.count > metricsBefore[i]!.count &&
          (await api(n.url, 'GET', '/api/status')).body.routing_channels > CHANNELS
        ) {
          after[i] = m;
          break;
        }
        if (Date.now() > until) throw new Error(`${n.id} did not resync`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const [i, n] of nodes.entries()) {
      const seconds = (after[i]!.sum - metricsBefore[i]!.sum) / (after[i]!.count - metricsBefore[i]!.count);
      console.log(
        `  ${n.id.padEnd(10)} resync ${(seconds * 1000).toFixed(0)} ms  RSS ${rssMb(n.child.pid!).toFixed(0)} MB`,
      );
    }
    await db.destroy();
  } finally {
    await Promise.all(started.map((n) => n.stop('SIGTERM')));
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await tdb.drop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
