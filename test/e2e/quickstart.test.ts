import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { defaultCatalogue } from '../../lib/billing/price-catalogue.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { readmeBlock, shellCommands } from '../helpers/readme.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The README's quickstart, run as written against a gateway started as `npm start` starts it
 * (defaults: no ADMIN_TOKEN, SEED_PRICES on, unpriced models refused) and the fake upstream
 * playing api.openai.com. The only edits are the ones a reader makes: the printed admin token,
 * the token key from step 2, and (for the test) the upstream's and the gateway's addresses.
 */
describe('README quickstart', function () {
  this.timeout(60_000);
  let fake: FakeUpstream;
  let node: SpawnedNode | undefined;
  let dataDir: string;
  let scratch: string;

  before(async () => {
    fake = await startFakeUpstream();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-quickstart-'));
    // Inside the repository, so `import 'openai'` resolves as it does for a reader who installed it.
    scratch = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.quickstart-'));
  });
  after(async () => {
    await node?.stop();
    await fake.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('serves chat, streaming and embeddings through the official openai client with no other step', async () => {
    node = await spawnNode({
      DATA_DIR: dataDir,
      SEED_PRICES: 'true',
      ALLOW_UNPRICED_MODELS: 'false',
      LOG_LEVEL: 'warn',
    });
    await waitFor(() => /Admin token: (\S+)/.test(node!.output()), 5000, 'the printed admin token');
    const adminToken = /Admin token: (\S+)/.exec(node.output())![1]!;

    const steps = readmeBlock('steps');
    expect(steps.lang).to.equal('sh');
    const commands = shellCommands(steps.code);
    expect(
      commands.filter((c) => c.startsWith('curl')),
      'curl steps',
    ).to.have.length.at.least(3);
    const placeholders: [string, () => string][] = [
      ['http://127.0.0.1:3000', () => node!.url],
      ['https://api.openai.com', () => fake.baseUrl('openai')],
      ['sk-proj-…', () => 'sk-upstream-quickstart'],
      ['sya-…', () => adminToken],
      ['sk-…', () => tokenKey],
    ];
    let tokenKey = '';
    const exports: string[] = [];
    const answers: any[] = [];
    for (const written of commands) {
      let command = written;
      for (const [text, value] of placeholders)
        if (command.includes(text)) command = command.split(text).join(value());
      if (command.startsWith('export ')) {
        exports.push(command);
        continue;
      }
      expect(command, 'every step is an export or a curl').to.match(/^curl /);
      const { stdout } = await run('bash', ['-c', [...exports, command].join('\n')], {
        env: { PATH: process.env.PATH ?? '' },
        timeout: 15_000,
      });
      const answer = JSON.parse(stdout);
      expect(answer, `${written}\n→ ${stdout}`).to.not.have.property('error');
      answers.push(answer);
      if (typeof answer.data?.key === 'string') tokenKey = answer.data.key;
    }
    expect(tokenKey, 'a step creates a token').to.match(/^sk-/);
    const chat = answers.at(-1);
    expect(chat.object).to.equal('chat.completion');
    expect(chat.choices[0].message.content).to.match(/^Hello from openai as gpt-4o-mini/);
    // The curl steps reached the fake upstream with the channel's key, not the token's.
    expect(fake.requests.at(-1)!.authorization).to.equal('Bearer sk-upstream-quickstart');

    // The client example, run as a reader runs it: its own file, SY and KEY from the shell.
    const client = readmeBlock('client');
    expect(client.lang).to.equal('js');
    const models = [...client.code.matchAll(/model: '([^']+)'/g)].map((m) => m[1]!);
    expect(models).to.include.members(['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small']);
    const channelModels: string[] = answers[0].data.models;
    const priced = new Set(defaultCatalogue.models.map((m) => m.model));
    for (const model of models) {
      expect(channelModels, `the channel of step 1 serves ${model}`).to.include(model);
      expect(priced.has(model), `${model} is in the default price catalogue`).to.equal(true);
    }
    const file = path.join(scratch, 'quickstart.mjs');
    fs.writeFileSync(file, client.code);
    const before = fake.requests.length;
    const { stdout } = await run(process.execPath, [file], {
      env: { PATH: process.env.PATH ?? '', SY: node.url, KEY: tokenKey },
      timeout: 20_000,
    });
    expect(stdout.split('\n')).to.deep.equal([
      'Hello from openai as gpt-4o-mini',
      'Hello from openai as gpt-4o',
      'an embedding of 3 numbers',
      '',
    ]);
    const paths = fake.requests
      .slice(before)
      .map((r) => `${r.path} ${String(r.body.model)} ${r.body.stream === true}`);
    expect(paths).to.deep.equal([
      '/v1/chat/completions gpt-4o-mini false',
      '/v1/chat/completions gpt-4o true',
      '/v1/embeddings text-embedding-3-small false',
    ]);

    // Every request was priced and charged to the token.
    const logs = await fetch(`${node.url}/api/logs?type=consume`, {
      headers: { authorization: `Bearer ${adminToken}` },
    }).then((r) => r.json() as Promise<any>);
    expect(logs.data).to.have.length(4);
    for (const row of logs.data) expect(row.quota, row.model).to.be.greaterThan(0);
  });
});
