import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { startTokenWorker, TokenCounter } from '../../lib/billing/token-counter.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A stand-in worker speaking the counter's messages: it answers a token per character, exits
 * (a crash) on a text starting with "die", and never answers one starting with "hang".
 */
const fakeWorker = () =>
  new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', ({ id, parts }) => {
       if (parts[0].text.startsWith('die')) process.exit(3);
       if (parts[0].text.startsWith('hang')) return;
       parentPort.postMessage({ id, tokens: parts.reduce((n, p) => n + p.exact, 0) });
     });`,
    { eval: true },
  );

describe('the token counter worker', function () {
  this.timeout(30_000);
  const counters: TokenCounter[] = [];
  const counter = (opts: ConstructorParameters<typeof TokenCounter>[0]) => {
    const c = new TokenCounter(opts);
    counters.push(c);
    return c;
  };
  after(() => Promise.all(counters.map((c) => c.stop())));

  it('starts at the first count, not before, and counts exactly', async () => {
    const c = counter({});
    expect(c.running).to.equal(false);
    // 10 tokens; the estimate of its 45 characters would be 12.
    expect(await c.count(['The quick brown fox jumps over the lazy dog.\n'])).to.equal(10);
    expect(c.running).to.equal(true);
  });

  it('a worker killed between counts is replaced at the next count, which counts exactly', async () => {
    let worker: Worker | undefined;
    const c = counter({ startWorker: () => (worker = startTokenWorker()) });
    const text = 'The quick brown fox jumps over the lazy dog.\n'.repeat(100);
    expect(await c.count([text])).to.equal(1000);
    const first = worker!;
    await first.terminate();
    await waitFor(async () => !c.running, 5000, 'the counter sees its worker gone');
    expect(await c.count([text])).to.equal(1000);
    expect(worker).to.not.equal(first);
  });

  it('a count whose worker dies is the estimate, ceil(chars / 4); the next count gets a new worker', async () => {
    let started = 0;
    const c = counter({
      startWorker: () => {
        started++;
        return fakeWorker();
      },
    });
    expect(await c.count(['abcdefgh'])).to.equal(8);
    const [died, waiting] = await Promise.all([c.count(['die, worker']), c.count(['abcdefghij'])]);
    expect(died).to.equal(Math.ceil('die, worker'.length / 4));
    expect(waiting).to.equal(Math.ceil(10 / 4));
    expect(await c.count(['abcdefgh'])).to.equal(8);
    expect(started).to.equal(2);
  });

  it('a worker that never answers: the count is the estimate after the timeout, and a new worker takes over', async () => {
    let started = 0;
    const c = counter({
      timeoutMs: 300,
      startWorker: () => {
        started++;
        return fakeWorker();
      },
    });
    const t0 = performance.now();
    expect(await c.count(['hang on'])).to.equal(2);
    expect(performance.now() - t0).to.be.within(250, 5000);
    expect(await c.count(['abcdefgh'])).to.equal(8);
    expect(started).to.equal(2);
  });

  it('stop ends the worker; a count still waiting gets the estimate', async () => {
    const c = counter({ startWorker: fakeWorker });
    const waiting = c.count(['hang until stopped']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await c.stop();
    expect(await waiting).to.equal(Math.ceil('hang until stopped'.length / 4));
    expect(c.running).to.equal(false);
  });

  it('the idle worker does not keep the process alive', async () => {
    const script = `import { countTextTokens } from './lib/billing/token-counter.ts';
      console.log(await countTextTokens('The quick brown fox jumps over the lazy dog.'));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, 'the process exits by itself').to.equal(0);
    expect(out.trim()).to.equal('10');
  });
});
