import { expect } from 'chai';
import { pino } from 'pino';
import { Lifecycle } from '../../lib/wiring/lifecycle.js';
import { TimerScheduler } from '../../lib/wiring/scheduler.js';

const logger = pino({ level: 'silent' });

describe('lifecycle', () => {
  it('starts components in order and stops them in reverse', async () => {
    const seen: string[] = [];
    const lc = new Lifecycle(logger);
    for (const name of ['db', 'redis', 'http', 'drain'])
      lc.add({ name, start: () => void seen.push(`+${name}`), stop: () => void seen.push(`-${name}`) });
    await lc.start();
    await lc.stop();
    expect(seen).to.deep.equal(['+db', '+redis', '+http', '+drain', '-drain', '-http', '-redis', '-db']);
    await lc.stop(); // stopping twice stops nothing twice
    expect(seen).to.have.length(8);
  });

  it('a failed start stops what had started, in reverse, and rethrows', async () => {
    const seen: string[] = [];
    const lc = new Lifecycle(logger)
      .add({ name: 'a', start: () => void seen.push('+a'), stop: () => void seen.push('-a') })
      .add({ name: 'b', start: () => void seen.push('+b'), stop: () => void seen.push('-b') })
      .add({
        name: 'c',
        start: () => {
          throw new Error('preflight refused');
        },
        stop: () => void seen.push('-c'),
      })
      .add({ name: 'd', start: () => void seen.push('+d') });
    const err = await lc.start().catch((e: Error) => e);
    expect((err as Error).message).to.equal('preflight refused');
    expect(seen).to.deep.equal(['+a', '+b', '-b', '-a']);
  });

  it('a component that fails to stop does not keep the others from stopping', async () => {
    const seen: string[] = [];
    const lc = new Lifecycle(logger)
      .add({ name: 'a', stop: () => void seen.push('-a') })
      .add({
        name: 'b',
        stop: () => {
          throw new Error('stuck');
        },
      })
      .add({ name: 'c', stop: () => void seen.push('-c') });
    await lc.start();
    await lc.stop();
    expect(seen).to.deep.equal(['-c', '-a']);
  });
});

describe('timer scheduler (a single node)', () => {
  it('runs each task on its timer, never overlapping itself, and waits for a round under way at stop', async () => {
    let running = 0;
    let maxRunning = 0;
    let rounds = 0;
    const s = new TimerScheduler(
      [
        {
          name: 'slow',
          everyMs: 10,
          run: async () => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await new Promise((r) => setTimeout(r, 35));
            running--;
            rounds++;
          },
        },
        { name: 'never', everyMs: 0, run: () => Promise.reject(new Error('must not run')) },
      ],
      logger,
    );
    s.start();
    await new Promise((r) => setTimeout(r, 120));
    await s.stop();
    expect(maxRunning).to.equal(1);
    expect(rounds).to.be.greaterThan(0);
    expect(running).to.equal(0);
  });
});
