import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import OpenAI from 'openai';
import { callJson } from '../helpers/http.js';
import { bestOf, probeLatency } from '../helpers/latency-probe.js';
import { heavyRequest } from '../helpers/heavy-client.js';
import { rawConnect } from '../helpers/raw-socket.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'stall-admin-token-0123456789';

/**
 * The most one request may raise the node's event-loop delay (event_loop_delay_seconds, the
 * latency every other request on the node pays on top of its own). A request's own work gives
 * the loop back at least every few ms; the rest is headroom for a loaded 2-CPU machine, and each
 * case keeps the best of 3 runs (see bestOf). Before the fixes these stalls lasted seconds to
 * minutes.
 */
const LOOP_BOUND_MS = 250;
/**
 * The most another client's request may take meanwhile, seen from this test process (which also
 * plays the upstream and the client, so it is looser than the node's own figure).
 */
const PROBE_BOUND_MS = 1000;

/**
 * An OpenAI-compatible upstream that streams `size` characters of 'x' as chat.completion.chunk
 * events and, like some proxies, no usage chunk even when stream_options.include_usage asks.
 */
async function startXStreamer(size: number): Promise<{ url: string; close(): Promise<void> }> {
  const piece = 'x'.repeat(4096);
  const event = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-x',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o',
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  let text = event({ role: 'assistant', content: '' }, null);
  for (let sent = 0; sent < size; sent += piece.length) text += event({ content: piece }, null);
  // Built once: serving it costs this (measuring) process little.
  const body = Buffer.from(text + event({}, 'stop') + 'data: [DONE]\n\n');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('no single request stalls the gateway (a node in its own process)', function () {
  this.timeout(60_000);
  let node: SpawnedNode;
  let dataDir: string;
  let streamer: Awaited<ReturnType<typeof startXStreamer>>;
  let key: string;
  let tokenId: number;

  const admin = (method: string, p: string, body?: unknown) => callJson(node.url, ADMIN, method, p, body);

  before(async () => {
    streamer = await startXStreamer(2 * 1024 * 1024);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-stall-'));
    node = await spawnNode({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: ADMIN,
      SECRET_KEY: 'stall-secret-key-0123456789',
      LOG_LEVEL: 'warn',
    });
    const ch = await admin('POST', '/api/channels', {
      name: 'x',
      base_url: streamer.url,
      key: 'sk-x-streamer-0123',
      models: ['gpt-4o'],
    });
    expect(ch.status).to.equal(201);
    const t = await admin('POST', '/api/tokens', { name: 'stall' });
    expect(t.status).to.equal(201);
    key = t.body.data.key;
    tokenId = t.body.data.id;
  });
  after(async () => {
    await node?.stop('SIGKILL');
    await streamer?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** The node's event-loop delay max (seconds → ms) since the previous scrape. */
  async function loopDelayMaxMs(): Promise<number> {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('event_loop_delay_seconds{stat="max"}'));
    expect(line, 'event_loop_delay_seconds is exported').to.be.a('string');
    return Number(line!.split(' ')[1]) * 1000;
  }

  /**
   * Runs `work` while other requests probe the node; returns the worst probe latency and the
   * node's own event-loop delay over the run, best of 3 runs.
   */
  async function worstDelay<T>(work: () => Promise<T>, tailMs = 1000) {
    return bestOf(3, LOOP_BOUND_MS, async () => {
      await loopDelayMaxMs();
      const probed = await probeLatency(`${node.url}/healthz`, work, { tailMs });
      const loopMs = await loopDelayMaxMs();
      const ms = Math.max(loopMs, (probed.maxMs * LOOP_BOUND_MS) / PROBE_BOUND_MS);
      return { value: probed.value, probeMs: probed.maxMs, loopMs, ms };
    });
  }

  it('an upstream streaming 2 MB of "x" without usage: other requests stay fast, the answer is counted', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${node.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const r = await worstDelay(async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x'.repeat(120_000) }],
        stream: true,
      });
      let n = 0;
      for await (const chunk of stream) n += chunk.choices[0]?.delta?.content?.length ?? 0;
      return n;
    });
    expect(r.value).to.be.at.least(2 * 1024 * 1024);
    expect(r.probeMs, `probe latency (loop delay ${r.loopMs} ms)`).to.be.below(PROBE_BOUND_MS);
    expect(r.loopMs, 'event-loop delay').to.be.below(LOOP_BOUND_MS);
    // Counted locally (the upstream sent no usage), charged, and logged.
    await waitFor(
      async () => {
        const logs = await admin('GET', `/api/logs?token_id=${tokenId}`);
        return logs.status === 200 && logs.body.data?.some((row: any) => row.completion_tokens > 0);
      },
      10_000,
      'the usage log row of the 2 MB stream',
    );
  });

  it('a huge prompt (2 MB of one unbroken word, 16 times the 120k that took 7.7 s), its stream abandoned: counted without a stall', async () => {
    const r = await worstDelay(() =>
      heavyRequest({
        url: `${node.url}/v1/chat/completions`,
        key,
        prefix: '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"',
        fill: 'y',
        repeat: 2 * 1024 * 1024,
        suffix: '"}]}',
      }),
    );
    expect(r.value.status).to.equal(200);
    expect(r.probeMs, `probe latency (loop delay ${r.loopMs} ms)`).to.be.below(PROBE_BOUND_MS);
    expect(r.loopMs, 'event-loop delay').to.be.below(LOOP_BOUND_MS);
  });

  it('a 20 MB body nested 10 million levels deep is refused 400 without a stall', async () => {
    const depth = 10 * 1024 * 1024 - 64;
    const r = await worstDelay(
      () =>
        heavyRequest({
          url: `${node.url}/v1/chat/completions`,
          key,
          prefix: '{"model":"gpt-4o","messages":' + '['.repeat(1000),
          fill: '[]',
          repeat: depth - 1000,
          suffix: ']'.repeat(1000) + '}',
          readAll: true,
        }),
      300,
    );
    expect(r.value.status).to.equal(400);
    expect(JSON.parse(r.value.head).error.code).to.equal('json_too_deep');
    expect(r.probeMs, `probe latency (loop delay ${r.loopMs} ms)`).to.be.below(PROBE_BOUND_MS);
    expect(r.loopMs, 'event-loop delay').to.be.below(LOOP_BOUND_MS);
  });

  it('a body sent a byte at a time costs nobody else anything', async () => {
    const r = await worstDelay(async () => {
      const s = await rawConnect(node.url);
      s.socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
      );
      await s.dribble('{"model":"gpt-4o","messages":[', 50);
      s.socket.destroy();
      return true;
    }, 300);
    expect(r.probeMs, `probe latency (loop delay ${r.loopMs} ms)`).to.be.below(PROBE_BOUND_MS);
    expect(r.loopMs, 'event-loop delay').to.be.below(LOOP_BOUND_MS);
  });
});
