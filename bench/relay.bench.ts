/**
 * `npm run bench`: the gateway against the floor of any Node relay.
 *
 * Starts the fake upstream, a bare keep-alive pass-through proxy, and the gateway (SQLite,
 * token auth, routing, usage charging and JSON logs to a file all on), each as its own process,
 * then loads each with autocannon (same connections, same small non-streaming chat completion),
 * in alternating rounds, and prints requests/s, p50 and p99 per round, the medians, the ratio
 * gateway/bare, and the gateway's RSS under load. Env: BENCH_SECONDS (8), BENCH_ROUNDS (3),
 * BENCH_CONNECTIONS (32).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ADMIN = 'bench-admin-token-0123456789';
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
): Promise<{ child: ChildProcess; port: number }> {
  const out = logFile ? fs.openSync(logFile, 'a') : 'pipe';
  // The gateway runs as `npm start` runs it (compiled); the helpers run under tsx.
  const argv = args[0]!.endsWith('.js') ? args : ['--import', 'tsx', ...args];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
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
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  sample?: () => void,
): Promise<Round> {
  const timer = sample ? setInterval(sample, 250) : undefined;
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
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
  const upstream = await start(['test/helpers/fake-upstream.ts', '0']);
  const bare = await start(['bench/bare-proxy.ts', `127.0.0.1:${upstream.port}`]);
  const gwPort = 3900 + Math.floor(Math.random() * 90);
  const logFile = path.join(dataDir, 'gateway.log');
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const gw = await start(
    ['dist/lib/main.js'],
    {
      PORT: String(gwPort),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
    },
    logFile,
  );
  const gwUrl = `http://127.0.0.1:${gwPort}`;
  await waitReady(`${gwUrl}/readyz`);
  const admin = (p: string, body: unknown) =>
    fetch(gwUrl + p, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<{ data: { key: string } }>);
  await admin('/api/channels', {
    name: 'fake',
    base_url: `http://127.0.0.1:${upstream.port}/bench/ok`,
    key: 'sk-bench-upstream',
    models: ['gpt-4o-mini'],
  });
  const token = (await admin('/api/tokens', { name: 'bench', quota: 1_000_000_000_000 })).data.key;

  const targets = {
    bare: { url: `http://127.0.0.1:${bare.port}/bench/ok/v1/chat/completions`, headers: {} },
    gateway: { url: `${gwUrl}/v1/chat/completions`, headers: { authorization: `Bearer ${token}` } },
  };
  console.log(
    `Switchyard relay benchmark: ${CONNECTIONS} connections, ${SECONDS} s per round, ${ROUNDS} rounds, ${os.cpus().length} CPUs`,
  );
  for (const t of Object.values(targets)) await load(t.url, t.headers, 2); // warm-up (JIT, pools)

  const results: Record<'bare' | 'gateway', Round[]> = { bare: [], gateway: [] };
  const rss: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of ['bare', 'gateway'] as const) {
      const t = targets[name];
      const r = await load(
        t.url,
        t.headers,
        SECONDS,
        name === 'gateway' ? () => rss.push(rssMb(gw.child.pid!)) : undefined,
      );
      results[name].push(r);
      console.log(
        `round ${round} ${name.padEnd(8)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  errors ${r.errors}  non-2xx ${r.non2xx}`,
      );
    }
  }
  const m = (name: 'bare' | 'gateway', k: keyof Round) => median(results[name].map((r) => r[k]));
  console.log('\nmedians');
  for (const name of ['bare', 'gateway'] as const) {
    console.log(
      `  ${name.padEnd(8)} ${m(name, 'rps').toFixed(0).padStart(7)} req/s  p50 ${m(name, 'p50').toFixed(1)} ms  p99 ${m(name, 'p99').toFixed(1)} ms`,
    );
  }
  // Each round's pair ran back to back, so its ratio is the least exposed to a noisy neighbour.
  const ratios = results.gateway.map((g, i) => g.rps / results.bare[i]!.rps);
  console.log(`  ratio gateway/bare per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  console.log(`  ratio gateway/bare (median of rounds): ${median(ratios).toFixed(2)} (goal >= 0.50)`);
  console.log(`  ratio of median req/s: ${(m('gateway', 'rps') / m('bare', 'rps')).toFixed(2)}`);
  console.log(
    `  gateway RSS under load: median ${median(rss).toFixed(0)} MB, max ${Math.max(...rss).toFixed(0)} MB (goal < 200 MB)`,
  );
  const logLines = fs.readFileSync(logFile, 'utf8').split('\n').length;
  console.log(`  gateway log lines written: ${logLines}`);

  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
