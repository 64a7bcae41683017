import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import OpenAI from 'openai';
import { callJson } from '../helpers/http.js';
import { probeLatency } from '../helpers/latency-probe.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'stall-admin-token-0123456789';

/**
 * The most another request's latency may rise while one request does its worst. A request's own
 * work gives the event loop back at least every few ms; the rest is headroom for a loaded 2-CPU
 * machine. Before the fixes these stalls lasted seconds to minutes.
 */
const LATENCY_BOUND_MS = 250;

/**
 * An OpenAI-compatible upstream that streams `size` characters of 'x' as chat.completion.chunk
 * events and, like some proxies, no usage chunk even when stream_options.include_usage asks.
 */
async function startXStreamer(size: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const piece = 'x'.repeat(4096);
      const event = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({
          id: 'chatcmpl-x',
          object: 'chat.completion.chunk',
          created: 1_700_000_000,
          model: 'gpt-4o',
          choices: [{ index: 0, delta, finish_reason: finish }],
        })}\n\n`;
      let body = event({ role: 'assistant', content: '' }, null);
      for (let sent = 0; sent < size; sent += piece.length) body += event({ content: piece }, null);
      body += event({}, 'stop') + 'data: [DONE]\n\n';
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

  it('an upstream streaming 2 MB of "x" without usage: other requests stay fast, the answer is counted', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${node.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const { value: chars, maxMs } = await probeLatency(`${node.url}/healthz`, async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x'.repeat(120_000) }],
        stream: true,
      });
      let n = 0;
      for await (const chunk of stream) n += chunk.choices[0]?.delta?.content?.length ?? 0;
      return n;
    });
    expect(chars).to.be.at.least(2 * 1024 * 1024);
    expect(maxMs).to.be.below(LATENCY_BOUND_MS);
    // Counted locally (the upstream sent no usage), charged, and logged.
    await waitFor(
      async () => {
        const logs = await admin('GET', `/api/logs?token_id=${tokenId}`);
        return logs.status === 200 && logs.body.data?.some((r: any) => r.completion_tokens > 0);
      },
      10_000,
      'the usage log row of the 2 MB stream',
    );
  });
});
