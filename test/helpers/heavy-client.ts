import { spawn } from 'node:child_process';

/**
 * Sends one heavy request from a child process, so building and uploading it costs the test
 * process (which measures other requests' latency) nothing. The body is `prefix` +
 * `fill` repeated `repeat` times + `suffix`; the child reads the answer's first bytes (or all of
 * it with `readAll`), then closes. Resolves with the status and the first bytes; the child is
 * killed by its pid after `timeoutMs`.
 */
export function heavyRequest(opts: {
  url: string;
  key: string;
  prefix: string;
  fill: string;
  repeat: number;
  suffix: string;
  readAll?: boolean;
  timeoutMs?: number;
}): Promise<{ status: number; head: string }> {
  const script = `
    const http = require('node:http');
    const o = JSON.parse(process.env.HEAVY);
    const body = Buffer.from(o.prefix + o.fill.repeat(o.repeat) + o.suffix);
    const u = new URL(o.url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: {
      authorization: 'Bearer ' + o.key, 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let head = '';
      res.on('data', (d) => {
        head += d.toString('utf8');
        if (!o.readAll && head.length > 0) { process.stdout.write(JSON.stringify({ status: res.statusCode, head: head.slice(0, 2000) })); process.exit(0); }
      });
      res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, head: head.slice(0, 2000) })); process.exit(0); });
    });
    req.on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, head: String(e.message) })); process.exit(0); });
    req.end(body);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH ?? '', HEAVY: JSON.stringify(opts) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), opts.timeoutMs ?? 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as { status: number; head: string });
      } catch {
        reject(new Error(`the heavy client failed: ${out} ${err}`));
      }
    });
  });
}
