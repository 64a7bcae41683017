import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './spawn-node.js';
import { waitFor } from './wait.js';

/**
 * A redis-server of the test's own on 127.0.0.1 (no persistence), so a test may kill it, start
 * it again empty on the same port, or `CLIENT PAUSE` it without touching the shared Redis.
 * Every process it starts is killed by its pid (also when the test process exits).
 */
export interface PrivateRedis {
  port: number;
  url: string;
  pid(): number | undefined;
  /** True while the server started last is running. */
  running(): boolean;
  /** SIGKILLs the server (every key is lost) and waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** `CLIENT PAUSE ms ALL` from a connection of its own. */
  pause(ms: number): Promise<void>;
  close(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) if (child.pid) process.kill(child.pid, 'SIGKILL');
});

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  const start = async () => {
    const c = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    child = c;
    live.add(c);
    exited = new Promise((resolve) => c.once('exit', () => (live.delete(c), resolve())));
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {}); // refused until the server listens
    try {
      await waitFor(
        async () => {
          try {
            if (probe.status !== 'ready') await probe.connect();
            return (await probe.ping()) === 'PONG';
          } catch {
            probe.disconnect();
            return false;
          }
        },
        5000,
        `redis-server on port ${port}`,
      );
    } finally {
      probe.disconnect();
    }
  };
  const kill = async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null)
      process.kill(child.pid, 'SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    kill,
    start,
    async pause(ms) {
      const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, enableReadyCheck: false });
      admin.on('error', () => {});
      try {
        await admin.client('PAUSE', ms, 'ALL');
      } finally {
        admin.disconnect();
      }
    },
    close: kill,
  };
}
