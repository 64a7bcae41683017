import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn-node.js';

describe('process lifecycle (the gateway as a child process)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let fake: FakeUpstream;
  let node: SpawnedNode | undefined;

  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-life-'));
  });
  afterEach(async () => {
    await node?.stop('SIGKILL');
    node = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('first start: migrates SQLite, prints a one-time admin token that works; later starts print none', async () => {
    node = await spawnNode({ DATA_DIR: dataDir });
    const printed = /Admin token: (sya-\S+)/.exec(node.output());
    expect(printed, node.output()).to.not.equal(null);
    const adminToken = printed![1]!;
    expect(fs.existsSync(path.join(dataDir, 'switchyard.sqlite'))).to.equal(true);
    expect(fs.statSync(path.join(dataDir, 'secret.key')).mode & 0o777).to.equal(0o600);

    const call = (method: string, p: string, body?: unknown) =>
      fetch(node!.url + p, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    expect(
      (
        await call('POST', '/api/channels', {
          name: 'a',
          base_url: fake.baseUrl('a'),
          key: 'sk-upstream-life-1234',
          models: ['gpt-4o'],
        })
      ).status,
    ).to.equal(201);
    const token = (await call('POST', '/api/tokens', { name: 'app' })).body.data;
    const client = new OpenAI({ apiKey: token.key, baseURL: `${node.url}/v1`, maxRetries: 0 });
    expect(
      (await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }))
        .choices[0]!.message.content,
    ).to.equal('Hello from a as gpt-4o');
    // Secrets never reach the log.
    expect(node.output()).not.to.contain('sk-upstream-life-1234');
    expect(node.output()).not.to.contain(token.key);

    expect(await node.stop('SIGTERM')).to.equal(0);
    // Same port, so the client above talks to the restarted node.
    node = await spawnNode({ DATA_DIR: dataDir, PORT: String(node.port) });
    expect(node.output()).not.to.contain('Admin token');
    expect((await call('GET', '/api/channels')).body.total).to.equal(1);
    // The channel key written under the generated secret is still readable after the restart.
    expect(
      (await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }))
        .choices[0]!.message.content,
    ).to.contain('from a');
  });

  it('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    node = await spawnNode({ DATA_DIR: dataDir, ADMIN_TOKEN: 'life-admin-token-0123456789' });
    expect(node.output()).not.to.contain('Admin token:');
    const headers = {
      authorization: 'Bearer life-admin-token-0123456789',
      'content-type': 'application/json',
    };
    await fetch(`${node.url}/api/channels`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 's',
        base_url: fake.baseUrl('s', 'slow'),
        key: 'k-123456789012',
        models: ['m'],
      }),
    });
    const token = (
      (await fetch(`${node.url}/api/tokens`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 't' }),
      }).then((r) => r.json())) as any
    ).data;
    const client = new OpenAI({ apiKey: token.key, baseURL: `${node.url}/v1`, maxRetries: 0 });
    const inFlight = client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    await new Promise((r) => setTimeout(r, 100));
    const exit = node.stop('SIGTERM');
    const answer = await inFlight;
    expect(answer.choices[0]!.message.content).to.equal('Hello from s as m');
    expect(await exit).to.equal(0);
    expect(node.output()).to.contain('Switchyard stopped');
  });

  it('refuses to start with a SECRET_KEY that does not decrypt the stored channel keys', async () => {
    node = await spawnNode({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: 'life-admin-token-0123456789',
      SECRET_KEY: 'first-secret-0123456789',
    });
    const headers = {
      authorization: 'Bearer life-admin-token-0123456789',
      'content-type': 'application/json',
    };
    const r = await fetch(`${node.url}/api/channels`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'c', base_url: fake.baseUrl('c'), key: 'k-123456789012', models: ['m'] }),
    });
    expect(r.status).to.equal(201);
    await node.stop('SIGTERM');
    const err = await spawnNode({ DATA_DIR: dataDir, SECRET_KEY: 'another-secret-0123456789' }, 10_000).catch(
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.contain('SECRET_KEY does not decrypt the stored channel keys');
  });

  it('refuses to start with a clear message naming a bad variable', async () => {
    const err = await spawnNode({ DATA_DIR: dataDir, RETRY_TIMES: 'many' }, 10_000).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.contain('RETRY_TIMES');
  });
});
