import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A gateway running as a child process on 127.0.0.1. */
export interface SpawnedNode {
  url: string;
  port: number;
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Sends `signal` and waits (bounded) for the exit; SIGKILLs after `timeoutMs`. Returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) if (child.pid) process.kill(child.pid, 'SIGKILL');
});

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a gateway with `env` — `lib/main.ts` under tsx, or with `compiled` the built
 * `dist/lib/main.js` as `npm start` runs it — and waits until `/readyz` answers 200 (bounded).
 */
export async function spawnNode(
  env: Record<string, string>,
  readyTimeoutMs = 20_000,
  opts: { compiled?: boolean } = {},
): Promise<SpawnedNode> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const argv = opts.compiled ? ['dist/lib/main.js'] : ['--import', 'tsx', 'lib/main.ts'];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      LOG_PRETTY: 'false',
      LOG_LEVEL: 'info',
      // Routing and lifecycle tests need no prices; the billing tests set prices and turn this off.
      ALLOW_UNPRICED_MODELS: 'true',
      // Tests price what they use; the catalogue's seeding is tested on its own (SEED_PRICES=true).
      SEED_PRICES: 'false',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      live.delete(child);
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const node: SpawnedNode = {
    url,
    port,
    child,
    pid: child.pid!,
    output: () => out,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (exitCode !== undefined) return exitCode;
      process.kill(child.pid!, signal);
      const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  try {
    await waitFor(
      async () => {
        if (exitCode !== undefined)
          throw new Error(`node exited with ${exitCode} before it was ready:\n${out}`);
        return fetch(`${url}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      readyTimeoutMs,
      `node on port ${port} to be ready`,
    );
  } catch (err) {
    await node.stop('SIGKILL');
    throw err;
  }
  return node;
}
