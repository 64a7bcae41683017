import { expect } from 'chai';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { decodeHealth, RedisHealthShare } from '../../lib/cfg/health-share.js';
import { ChannelHealth, type HealthMessage } from '../../lib/routing/channel-health.js';
import { deletePrefix, REDIS_URL } from '../helpers/cluster.js';
import { uniqueName } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';

const opts = { windowMs: 10_000, minRequests: 2, failureRate: 0.5, openMs: 5_000, openMaxMs: 20_000 };

describe('channel health shared through Redis', () => {
  let redis: Redis;
  let subscriber: Redis;
  let prefix: string;
  let heard: HealthMessage[];
  let share: RedisHealthShare;

  beforeEach(async () => {
    prefix = uniqueName('syh');
    redis = new Redis(REDIS_URL);
    subscriber = new Redis(REDIS_URL);
    share = new RedisHealthShare(redis, prefix, 'node-a', pino({ level: 'silent' }));
    heard = [];
    subscriber.on('message', (_channel: string, text: string) => {
      const m = decodeHealth(text);
      if (m) heard.push(m);
    });
    await subscriber.subscribe(share.channel);
  });
  afterEach(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
    subscriber.disconnect();
  });

  it('a node that starts later reads the cooldowns and open breakers in force; keys expire with them', async () => {
    const a = new ChannelHealth(opts, share);
    a.failed(1, 'gpt-4o', 'rate_limited', 3_000, 'rate limited (429)');
    a.failed(2, 'gpt-4o', 'fault', 0, 'status_5xx');
    a.failed(2, 'gpt-4o', 'fault', 0, 'status_5xx');
    await waitFor(() => heard.length === 2, 1000, 'both messages');
    expect(heard.map((m) => m.kind)).to.deep.equal(['cool', 'open']);
    const ttl = await redis.pttl(`${prefix}:health:1:gpt-4o`);
    expect(ttl).to.be.within(2_000, 3_000);
    expect(await redis.pttl(`${prefix}:health:2:gpt-4o`)).to.be.within(4_000, 5_000);

    const b = new ChannelHealth(opts);
    await share.load(b);
    expect(b.blocked(1, 'gpt-4o')).to.equal(true);
    expect(b.blocked(2, 'gpt-4o')).to.equal(true);
    expect(b.blocked(2, 'gpt-4o-mini')).to.equal(false);
    expect(b.snapshot().find((h) => h.channelId === 2)).to.include({ breaker: 'open' });
  });

  it('a passing probe deletes the open breaker; a reset deletes every key of the channel', async () => {
    let now = Date.now();
    const a = new ChannelHealth(opts, share, () => now);
    a.failed(3, 'm1', 'fault', 0, 'timeout');
    a.failed(3, 'm1', 'fault', 0, 'timeout');
    a.failed(3, 'm2', 'rate_limited', 60_000, '429');
    a.failed(4, 'm1', 'rate_limited', 60_000, '429');
    await waitFor(async () => (await redis.exists(`${prefix}:health:4:m1`)) === 1, 1000, 'the keys');
    now += 5_001;
    expect(a.begin(3, 'm1')).to.equal(true);
    a.succeeded(3, 'm1');
    await waitFor(
      async () => (await redis.exists(`${prefix}:health:3:m1`)) === 0,
      1000,
      'the closed breaker gone',
    );
    expect(await redis.exists(`${prefix}:health:3:m2`)).to.equal(1);

    a.reset(3);
    await waitFor(() => heard.some((m) => m.kind === 'reset'), 1000, 'the reset message');
    expect(await redis.exists(`${prefix}:health:3:m2`)).to.equal(0);
    expect(await redis.exists(`${prefix}:health:4:m1`), 'other channels keep theirs').to.equal(1);
  });

  it('ignores malformed messages', () => {
    expect(decodeHealth('{"channelId":1}')).to.equal(undefined);
    expect(decodeHealth('not json')).to.equal(undefined);
    expect(decodeHealth('{"channelId":1,"model":"m","kind":"explode","until":1,"at":1}')).to.equal(undefined);
  });
});
