import { expect } from 'chai';
import { ChannelHealth, type HealthMessage } from '../../lib/routing/channel-health.js';

const opts = { windowMs: 10_000, minRequests: 4, failureRate: 0.5, openMs: 1_000, openMaxMs: 3_000 };

describe('channel health', () => {
  let now: number;
  let published: HealthMessage[];
  let health: ChannelHealth;
  beforeEach(() => {
    now = 1_000_000;
    published = [];
    health = new ChannelHealth(opts, { publish: async (m) => void published.push(m) }, () => now);
  });

  it('a 429 cools only its (channel, model), for the pause given, and tells the other nodes', () => {
    health.failed(1, 'gpt-4o', 'rate_limited', 2_000, 'rate limited (429)');
    expect(health.blocked(1, 'gpt-4o')).to.equal(true);
    expect(health.blocked(1, 'gpt-4o-mini')).to.equal(false);
    expect(health.blocked(2, 'gpt-4o')).to.equal(false);
    expect(published).to.deep.equal([
      {
        channelId: 1,
        model: 'gpt-4o',
        kind: 'cool',
        until: now + 2_000,
        at: now,
        reason: 'rate limited (429)',
      },
    ]);
    now += 2_001;
    expect(health.blocked(1, 'gpt-4o')).to.equal(false);
  });

  it('an unusable account cools the channel for every model', () => {
    health.failed(1, 'gpt-4o', 'unusable', 60_000, 'account unusable');
    expect(health.blocked(1, 'gpt-4o')).to.equal(true);
    expect(health.blocked(1, 'text-embedding-3-small')).to.equal(true);
    expect(published[0]!.model).to.equal('*');
  });

  it('the breaker stays closed below the minimum of attempts, and opens at the failure rate', () => {
    for (let i = 0; i < 3; i++) health.failed(1, 'm', 'fault', 0, 'status_5xx');
    expect(health.blocked(1, 'm'), 'three attempts are below the minimum of four').to.equal(false);
    health.succeeded(1, 'm');
    // The rate is judged when a failure is recorded: a success never opens it.
    expect(health.blocked(1, 'm')).to.equal(false);
    health.failed(1, 'm', 'fault', 0, 'status_5xx'); // 4 failures of 5

    expect(health.blocked(1, 'm')).to.equal(true);
    expect(published.map((m) => m.kind)).to.deep.equal(['open']);
    expect(published[0]!.until).to.equal(now + 1_000);
  });

  it('a failure rate below the threshold keeps it closed', () => {
    for (let i = 0; i < 10; i++) {
      health.succeeded(1, 'm');
      if (i % 3 === 0) health.failed(1, 'm', 'fault', 0, 'timeout');
    }
    expect(health.snapshot()[0]).to.include({ breaker: 'closed', windowRequests: 14, windowFailures: 4 });
    expect(health.blocked(1, 'm')).to.equal(false);
  });

  it('failures older than the window no longer count', () => {
    for (let i = 0; i < 3; i++) health.failed(1, 'm', 'fault', 0, 'timeout');
    now += 11_000;
    health.failed(1, 'm', 'fault', 0, 'timeout');
    expect(health.blocked(1, 'm')).to.equal(false);
  });

  it('half-open lets one probe through; a passing probe closes it everywhere', () => {
    for (let i = 0; i < 4; i++) health.failed(1, 'm', 'fault', 0, 'status_5xx');
    now += 1_001;
    expect(health.blocked(1, 'm'), 'open time over: half-open').to.equal(false);
    expect(health.begin(1, 'm')).to.equal(true);
    expect(health.blocked(1, 'm'), 'one probe at a time').to.equal(true);
    health.succeeded(1, 'm');
    expect(health.blocked(1, 'm')).to.equal(false);
    expect(health.begin(1, 'm')).to.equal(false);
    expect(published.map((m) => m.kind)).to.deep.equal(['open', 'close']);
  });

  it('a failing probe reopens it for twice as long, up to the maximum', () => {
    for (let i = 0; i < 4; i++) health.failed(1, 'm', 'fault', 0, 'status_5xx');
    const openFor: number[] = [];
    for (let round = 0; round < 3; round++) {
      now += 5_000;
      expect(health.begin(1, 'm')).to.equal(true);
      health.failed(1, 'm', 'fault', 0, 'status_5xx', true);
      openFor.push(published.at(-1)!.until - now);
    }
    expect(openFor).to.deep.equal([2_000, 3_000, 3_000]);
  });

  it('attempts under way when it opened change nothing; a probe that never reports frees its slot', () => {
    for (let i = 0; i < 4; i++) health.failed(1, 'm', 'fault', 0, 'status_5xx');
    health.failed(1, 'm', 'fault', 0, 'status_5xx'); // a straggler, not a probe
    health.succeeded(1, 'm'); // another straggler
    expect(health.blocked(1, 'm'), 'still open').to.equal(true);
    expect(published).to.have.length(1);
    now += 1_001;
    expect(health.begin(1, 'm')).to.equal(true);
    health.abandoned(1, 'm');
    expect(health.blocked(1, 'm')).to.equal(false);
  });

  it('applies what other nodes publish: cooldowns, open breakers, closes', () => {
    health.apply({ channelId: 3, model: 'm', kind: 'cool', until: now + 500, at: now });
    expect(health.blocked(3, 'm')).to.equal(true);
    health.apply({ channelId: 4, model: 'm', kind: 'open', until: now + 500, at: now });
    expect(health.blocked(4, 'm')).to.equal(true);
    expect(health.snapshot().find((h) => h.channelId === 4)!.breaker).to.equal('open');
    health.apply({ channelId: 4, model: 'm', kind: 'close', until: now + 1, at: now + 1 });
    expect(health.blocked(4, 'm')).to.equal(false);
  });

  it('remembers when each failed last, for the least-recently-failed choice', () => {
    health.failed(1, 'm', 'rate_limited', 5_000, '429');
    now += 10;
    health.failed(2, 'm', 'fault', 0, 'timeout');
    now += 10;
    health.failed(2, 'other', 'unusable', 5_000, 'unusable');
    expect(health.lastFailedAt(1, 'm')).to.equal(1_000_000);
    expect(health.lastFailedAt(2, 'm'), 'the whole-channel failure is later').to.equal(1_000_020);
    expect(health.lastFailedAt(9, 'm')).to.equal(0);
  });

  it('a reset (the channel re-enabled) forgets every cooldown and breaker of the channel, here and on every node', () => {
    health.failed(1, '*', 'unusable', 60_000, 'account unusable');
    for (let i = 0; i < 4; i++) health.failed(1, 'm', 'fault', 0, 'status_5xx');
    health.failed(2, 'm', 'rate_limited', 60_000, '429');
    health.reset(1);
    expect(health.blocked(1, 'm')).to.equal(false);
    expect(health.blocked(2, 'm')).to.equal(true);
    expect(published.at(-1)).to.include({ channelId: 1, kind: 'reset' });

    const other = new ChannelHealth(opts, undefined, () => now);
    other.apply({ channelId: 1, model: 'm', kind: 'open', until: now + 500, at: now });
    other.apply(published.at(-1)!);
    expect(other.blocked(1, 'm')).to.equal(false);
    expect(other.snapshot()).to.deep.equal([]);
  });

  it('a probe answered with a 429 frees the slot once the pause is over', () => {
    for (let i = 0; i < 4; i++) health.failed(1, 'm', 'fault', 0, 'status_5xx');
    now += 1_001;
    expect(health.begin(1, 'm')).to.equal(true);
    health.failed(1, 'm', 'rate_limited', 500, '429');
    health.abandoned(1, 'm'); // what the relay does after a probe that was not a fault
    expect(health.blocked(1, 'm')).to.equal(true);
    now += 501;
    expect(health.blocked(1, 'm')).to.equal(false);
    expect(health.begin(1, 'm')).to.equal(true);
  });
});
