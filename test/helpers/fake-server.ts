import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/**
 * What the fake provider upstreams (Gemini, Bedrock) share: one server on 127.0.0.1 that plays
 * many channels. A channel's `base_url` is `http://127.0.0.1:PORT/<label>/<mode>`; the fake
 * reads label and mode from the first two path segments when the third is not the provider's
 * own (`v1beta`, `model`…). A request without them is label `default`, mode `ok`.
 */
export interface IncomingCall {
  label: string;
  mode: string;
  method: string;
  /** The path after the label and mode, with its query. */
  path: string;
  /** The path exactly as received (what a signature covers). */
  rawPath: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
}

export interface FakeServer {
  url: string;
  port: number;
  baseUrl(label: string, mode?: string): string;
  close(): Promise<void>;
}

export async function startFakeServer(
  isOwnSegment: (segment: string) => boolean,
  handle: (call: IncomingCall, res: http.ServerResponse) => void | Promise<void>,
): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawPath = req.url ?? '/';
      const segments = rawPath.split('?')[0]!.split('/').filter(Boolean);
      let label = 'default';
      let mode = 'ok';
      let path = rawPath;
      if (segments.length >= 3 && !isOwnSegment(segments[0]!)) {
        label = decodeURIComponent(segments[0]!);
        mode = decodeURIComponent(segments[1]!);
        path = rawPath.slice(`/${segments[0]}/${segments[1]}`.length);
      }
      const call: IncomingCall = {
        label,
        mode,
        method: req.method ?? 'GET',
        path,
        rawPath,
        headers: req.headers,
        raw: Buffer.concat(chunks),
      };
      Promise.resolve(handle(call, res)).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`fake upstream failed: ${String(err)}`);
        } else res.destroy();
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    baseUrl: (label, mode = 'ok') => `${url}/${encodeURIComponent(label)}/${encodeURIComponent(mode)}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keys of `obj` outside `allowed` (the real APIs refuse unknown fields). */
export function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[]): string[] {
  return Object.keys(obj).filter((k) => !allowed.includes(k));
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
