/**
 * `npm run bench`: the gateway against the floor of any Node relay, with billing off and on.
 *
 * Starts the fake upstream, a bare keep-alive pass-through proxy, and gateways (compiled, as
 * `npm start` runs them; token auth, routing and JSON logs to a file all on), each its own
 * process: a single node (SQLite) and a cluster master (MariaDB + Redis), each with BILLING=false
 * and with billing on (a price, a group ratio, and RPM/TPM limits on the token, its user and its
 * group that are checked on every request but never reached). Loads each with autocannon (same
 * connections, same small non-streaming chat completion) in alternating rounds and prints
 * requests/s, p50 and p99 per round, the medians, each gateway's ratio to the bare proxy, the
 * cost of billing (billing on / off in the same round), and RSS under load. Env: BENCH_SECONDS
 * (8), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32), BENCH_MODES (single,cluster), BENCH_BASELINE (a
 * git ref, e.g. the previous release: it is built in a temporary worktree and its gateways run
 * in the same alternating rounds, so "this release / baseline" is measured per round).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const MODES = (process.env.BENCH_MODES ?? 'single,cluster').split(',');
const BASELINE = process.env.BENCH_BASELINE;
const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = 'bench-admin-token-0123456789';
const MODEL = 'gpt-4o-mini';
const children: ChildProcess[] = [];

function cleanup() {
  for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function start(
  args: string[],
  env: Record<string, string> = {},
  logFile?: string,
  cwd = ROOT,
): Promise<{ child: ChildProcess; port: number }> {
  const out = logFile ? fs.openSync(logFile, 'a') : 'pipe';
  // The gateway runs as `npm start` runs it (compiled); the helpers run under tsx.
  const argv = args[0]!.endsWith('.js') ? args : ['--import', 'tsx', ...args];
  const child = spawn(process.execPath, argv, {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', logFile ? out : 'pipe', 'inherit'],
  });
  children.push(child);
  if (logFile) return Promise.resolve({ child, port: Number(env.PORT) });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start`)), 20_000);
    child.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve({ child, port: Number(d.toString().trim().split('\n')[0]) });
    });
  });
}

async function waitReady(url: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready`);
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

interface Round {
  rps: number;
  /** The gateway process's CPU time (user + system) per request answered, in µs: steadier than req/s on a shared machine. */
  cpuUs: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command), in clock ticks.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function load(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  sample?: () => void,
  pid?: number,
): Promise<Round> {
  const timer = sample ? setInterval(sample, 250) : undefined;
  const cpuBefore = pid ? cpuSeconds(pid) : 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hi' }],
      max_tokens: 8,
    }),
  });
  if (timer) clearInterval(timer);
  const cpu = pid ? cpuSeconds(pid) - cpuBefore : 0;
  return {
    rps: result.requests.average,
    cpuUs: result.requests.total > 0 ? (cpu * 1e6) / result.requests.total : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  pid?: number;
}

/** Starts one gateway (compiled) and sets up a channel and a token; with `billing`, prices and limits too. */
async function startGateway(
  name: string,
  dataDir: string,
  upstreamPort: number,
  env: Record<string, string>,
  billing: boolean,
  root = ROOT,
): Promise<Target> {
  const port = 3900 + Math.floor(Math.random() * 90) + children.length * 100;
  const gw = await start(
    ['dist/lib/main.js'],
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: path.join(dataDir, name),
      ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      BILLING: String(billing),
      ...env,
    },
    path.join(dataDir, `${name}.log`),
    root,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`);
  const admin = async (method: string, p: string, body: unknown) => {
    const r = await fetch(url + p, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${name}: ${method} ${p} → ${r.status} ${await r.text()}`);
    return (await r.json()) as { data: { key: string } };
  };
  await admin('POST', '/api/channels', {
    name: 'fake',
    base_url: `http://127.0.0.1:${upstreamPort}/bench/ok`,
    key: 'sk-bench-upstream',
    models: [MODEL],
  });
  const limits = { rpm_limit: 100_000_000, tpm_limit: 10_000_000_000 };
  if (billing) {
    await admin('PUT', `/api/prices/${MODEL}`, { input: 0.15, output: 0.6 });
    await admin('PUT', '/api/groups/default', { ratio: 1, ...limits });
    await admin('PATCH', '/api/users/1', { quota: 1_000_000_000_000, ...limits });
  }
  const token = await admin('POST', '/api/tokens', {
    name: 'bench',
    quota: 1_000_000_000_000,
    ...(billing ? limits : {}),
  });
  return {
    name,
    url: `${url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${token.data.key}` },
    pid: gw.child.pid,
  };
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
  const upstream = await start(['test/helpers/fake-upstream.ts', '0']);
  const bare = await start(['bench/bare-proxy.ts', `127.0.0.1:${upstream.port}`]);
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });

  const baseRoot = BASELINE ? buildBaseline(BASELINE, dataDir) : undefined;
  const targets: Target[] = [
    { name: 'bare', url: `http://127.0.0.1:${bare.port}/bench/ok/v1/chat/completions`, headers: {} },
  ];
  const cleanups: (() => Promise<void>)[] = [];
  if (MODES.includes('single')) {
    for (const billing of [false, true]) {
      targets.push(
        await startGateway(`single${billing ? '+billing' : ''}`, dataDir, upstream.port, {}, billing),
      );
      if (baseRoot) {
        const name = `single${billing ? '+billing' : ''}@base`;
        targets.push(await startGateway(name, dataDir, upstream.port, {}, billing, baseRoot));
      }
    }
  }
  if (MODES.includes('cluster')) {
    const conn = await mysql.createConnection(MYSQL_URL);
    const redis = new Redis(REDIS_URL);
    for (const billing of [false, true]) {
      const name = `cluster${billing ? '+billing' : ''}`;
      const db = `sybench_${process.pid}_${billing ? 'b' : 'p'}`;
      const prefix = `sybench${process.pid}${billing ? 'b' : 'p'}`;
      await conn.query(`CREATE DATABASE \`${db}\``);
      cleanups.push(async () => {
        await conn.query(`DROP DATABASE IF EXISTS \`${db}\``);
        for (let cursor = '0'; ;) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      });
      const env = {
        NODE_TYPE: 'master',
        NODE_ID: name.replace('+', '-'),
        DATABASE_URL: `${MYSQL_URL}/${db}`,
        REDIS_URL,
        REDIS_PREFIX: prefix,
        SECRET_KEY: 'bench-secret-key-0123456789',
      };
      targets.push(await startGateway(name, dataDir, upstream.port, env, billing));
    }
    cleanups.push(async () => {
      await conn.end();
      redis.disconnect();
    });
  }

  console.log(
    `Switchyard relay benchmark: ${CONNECTIONS} connections, ${SECONDS} s per round, ${ROUNDS} rounds, ${os.cpus().length} CPUs`,
  );
  for (const t of targets) await load(t.url, t.headers, 2); // warm-up (JIT, pools)

  const results = new Map<string, Round[]>(targets.map((t) => [t.name, []]));
  const rss = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const t of targets) {
      const r = await load(
        t.url,
        t.headers,
        SECONDS,
        t.pid ? () => rss.get(t.name)!.push(rssMb(t.pid!)) : undefined,
        t.pid,
      );
      results.get(t.name)!.push(r);
      console.log(
        `round ${round} ${t.name.padEnd(16)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUs.toFixed(0).padStart(4)} µs CPU/req  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  errors ${r.errors}  non-2xx ${r.non2xx}`,
      );
    }
  }
  const m = (name: string, k: keyof Round) => median(results.get(name)!.map((r) => r[k]));
  /** Per round: a / b, both measured in that round (the least exposed to a noisy neighbour). */
  const ratios = (a: string, b: string) => results.get(a)!.map((r, i) => r.rps / results.get(b)![i]!.rps);
  const show = (xs: number[]) =>
    `${median(xs).toFixed(2)} (rounds ${xs.map((x) => x.toFixed(2)).join(', ')})`;
  console.log('\nmedians');
  for (const t of targets) {
    console.log(
      `  ${t.name.padEnd(16)} ${m(t.name, 'rps').toFixed(0).padStart(7)} req/s  p50 ${m(t.name, 'p50').toFixed(1)} ms  p99 ${m(t.name, 'p99').toFixed(1)} ms`,
    );
  }
  console.log('ratios to the bare proxy (goal >= 0.50)');
  for (const t of targets.slice(1)) console.log(`  ${t.name.padEnd(16)} ${show(ratios(t.name, 'bare'))}`);
  console.log('cost of billing and limits: billing on / off (goal >= 0.85, i.e. a cost <= 15%)');
  for (const mode of MODES) {
    if (results.has(mode)) console.log(`  ${mode.padEnd(16)} ${show(ratios(`${mode}+billing`, mode))}`);
  }
  if (baseRoot) {
    console.log(`this release / baseline ${BASELINE} (same rounds)`);
    for (const t of targets) {
      if (!t.name.endsWith('@base')) continue;
      const mine = t.name.slice(0, -'@base'.length);
      console.log(`  ${mine.padEnd(16)} req/s ${show(ratios(mine, t.name))}`);
      const cpu = results.get(mine)!.map((r, i) => r.cpuUs / results.get(t.name)![i]!.cpuUs);
      console.log(
        `  ${''.padEnd(16)} CPU per request ${show(cpu)} (median ${m(mine, 'cpuUs').toFixed(0)} vs ${m(t.name, 'cpuUs').toFixed(0)} µs)`,
      );
    }
  }
  console.log('RSS under load (goal < 200 MB)');
  for (const t of targets.slice(1)) {
    const xs = rss.get(t.name)!;
    console.log(
      `  ${t.name.padEnd(16)} median ${median(xs).toFixed(0)} MB, max ${Math.max(...xs).toFixed(0)} MB`,
    );
  }

  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
  for (const c of cleanups) await c();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/** Builds `ref` in a temporary git worktree (sharing this checkout's node_modules) and returns its root. */
function buildBaseline(ref: string, dataDir: string): string {
  const dir = path.join(dataDir, 'baseline');
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: ROOT, stdio: 'inherit' });
  process.on('exit', () => {
    try {
      execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // already gone with the data directory: forget it
      execFileSync('git', ['worktree', 'prune'], { cwd: ROOT, stdio: 'ignore' });
    }
  });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: dir,
      stdio: 'inherit',
    },
  );
  // What `npm run build` copies besides the compiled code (releases with billing scripts as
  // files; the console is not needed to relay).
  const scripts = path.join(dir, 'lib/billing/scripts');
  if (fs.existsSync(scripts))
    fs.cpSync(scripts, path.join(dir, 'dist/lib/billing/scripts'), { recursive: true });
  return dir;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
