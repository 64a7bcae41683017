import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import OpenAI from 'openai';
import { countPromptTokens, countTextTokens } from '../../lib/billing/token-counter.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { callJson } from '../helpers/http.js';
import { probeLatency } from '../helpers/latency-probe.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'tokworker-admin-token-0123456789';
/** As in no-stall.test.ts: the most one request may raise the node's event-loop delay. */
const LOOP_BOUND_MS = 250;

/** The threads of process `pid` (Linux): the token counter's worker adds to them. */
function threadsOf(pid: number): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Threads:'));
  return Number(line!.split(/\s+/)[1]);
}

describe('token counting in a worker thread (a billing gateway in its own process)', function () {
  this.timeout(60_000);
  let node: SpawnedNode;
  let fake: FakeUpstream;
  let dataDir: string;
  let key: string;
  let tokenId: number;

  const admin = (method: string, p: string, body?: unknown) => callJson(node.url, ADMIN, method, p, body);

  async function loopDelayMaxMs(): Promise<number> {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('event_loop_delay_seconds{stat="max"}'));
    return Number(line!.split(' ')[1]) * 1000;
  }

  before(async () => {
    fake = await startFakeUpstream();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-tokworker-'));
    node = await spawnNode({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: ADMIN,
      SECRET_KEY: 'tokworker-secret-key-0123456789',
      LOG_LEVEL: 'warn',
      BILLING: 'true',
    });
    const ch = await admin('POST', '/api/channels', {
      name: 'n',
      base_url: fake.baseUrl('n', 'nousage'),
      key: 'sk-nousage-0123',
      models: ['gpt-4o'],
    });
    expect(ch.status).to.equal(201);
    const t = await admin('POST', '/api/tokens', { name: 'tokworker' });
    expect(t.status).to.equal(201);
    key = t.body.data.key;
    tokenId = t.body.data.id;
  });
  after(async () => {
    await node?.stop('SIGKILL');
    await fake?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a fresh gateway runs no counting thread; its first count starts one without stalling its event loop', async () => {
    const before = threadsOf(node.pid);
    const text = 'The quick brown fox jumps over the lazy dog.\n'.repeat(4000);
    await loopDelayMaxMs();
    const probed = await probeLatency(
      `${node.url}/healthz`,
      async () => {
        const res = await fetch(`${node.url}/v1/messages/count_tokens`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }),
        });
        return { status: res.status, body: (await res.json()) as { input_tokens: number } };
      },
      { tailMs: 300 },
    );
    const loopMs = await loopDelayMaxMs();
    expect(probed.value.status).to.equal(200);
    // 40,000 tokens counted exactly (plus a turn's 4), not the estimate of 45,000.
    expect(probed.value.body.input_tokens).to.equal((await countTextTokens(text)) + 4);
    expect(loopMs, 'event-loop delay during the first count').to.be.below(LOOP_BOUND_MS);
    expect(threadsOf(node.pid), 'the counting thread').to.be.above(before);
  });

  it('an upstream that sends no usage: the answer and prompt are counted by the worker, exactly', async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${node.url}/v1`, maxRetries: 0, timeout: 30_000 });
    const messages = [
      { role: 'user' as const, content: 'Count me, please: the quick brown fox jumps over the lazy dog.' },
    ];
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const prompt = await countPromptTokens('chat', { messages });
    const completion = await countTextTokens(text);
    await waitFor(
      async () => {
        const logs = await admin('GET', `/api/logs?token_id=${tokenId}`);
        return logs.body.data?.some(
          (row: any) => row.prompt_tokens === prompt && row.completion_tokens === completion,
        );
      },
      10_000,
      'the usage log row counted locally',
    );
  });
});
