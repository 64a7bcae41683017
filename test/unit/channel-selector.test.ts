import { expect } from 'chai';
import { RoutingIndex } from '../../lib/cfg/routing-index.js';
import { channel } from '../helpers/fixtures.js';
import { seededRandom, selectChannel, upstreamModel } from '../../lib/routing/channel-selector.js';

const plain = (s: string) => s;

describe('channel selection', () => {
  it('tries the highest priority tier first and exhausts it before going down', () => {
    const index = RoutingIndex.build(
      [
        channel({ id: 1, priority: 0 }),
        channel({ id: 2, priority: 10 }),
        channel({ id: 3, priority: 10 }),
        channel({ id: 4, priority: 5 }),
      ],
      plain,
    );
    const tiers = index.tiers('default', 'gpt-4o');
    expect(tiers.map((t) => t.priority)).to.deep.equal([10, 5, 0]);
    const random = seededRandom(7);
    const tried = new Set<number>();
    const order: number[] = [];
    for (let ch = selectChannel(tiers, tried, random); ch; ch = selectChannel(tiers, tried, random)) {
      order.push(ch.id);
      tried.add(ch.id);
    }
    expect(order.slice(0, 2).sort()).to.deep.equal([2, 3]);
    expect(order.slice(2)).to.deep.equal([4, 1]);
  });

  it('draws in proportion to weight inside a tier (20,000 seeded draws)', () => {
    const index = RoutingIndex.build(
      [channel({ id: 1, weight: 1 }), channel({ id: 2, weight: 3 }), channel({ id: 3, weight: 6 })],
      plain,
    );
    const tiers = index.tiers('default', 'gpt-4o');
    const random = seededRandom(42);
    const counts = new Map<number, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const ch = selectChannel(tiers, new Set(), random)!;
      counts.set(ch.id, (counts.get(ch.id) ?? 0) + 1);
    }
    // Expected shares 0.1 / 0.3 / 0.6; 3 sigma at n=20,000 is under 0.011.
    expect(counts.get(1)! / draws).to.be.closeTo(0.1, 0.012);
    expect(counts.get(2)! / draws).to.be.closeTo(0.3, 0.012);
    expect(counts.get(3)! / draws).to.be.closeTo(0.6, 0.012);
  });

  it('never picks an excluded channel and returns undefined when all were tried', () => {
    const index = RoutingIndex.build([channel({ id: 1 }), channel({ id: 2 })], plain);
    const tiers = index.tiers('default', 'gpt-4o');
    const random = seededRandom(1);
    for (let i = 0; i < 200; i++) expect(selectChannel(tiers, new Set([1]), random)!.id).to.equal(2);
    expect(selectChannel(tiers, new Set([1, 2]), random)).to.equal(undefined);
  });

  it('uses weight-0 channels only when nothing else in the tier is left', () => {
    const index = RoutingIndex.build([channel({ id: 1, weight: 0 }), channel({ id: 2, weight: 5 })], plain);
    const tiers = index.tiers('default', 'gpt-4o');
    const random = seededRandom(3);
    for (let i = 0; i < 500; i++) expect(selectChannel(tiers, new Set(), random)!.id).to.equal(2);
    expect(selectChannel(tiers, new Set([2]), random)!.id).to.equal(1);
  });

  it('serves mapped models and sends the upstream name', () => {
    const index = RoutingIndex.build(
      [
        channel({
          id: 1,
          models: ['gpt-4o'],
          modelMapping: { 'gpt-4o': 'azure-gpt4o-deploy', fast: 'gpt-4o-mini' },
        }),
      ],
      plain,
    );
    const ch = selectChannel(index.tiers('default', 'fast'), new Set())!;
    expect(ch.id).to.equal(1);
    expect(upstreamModel(ch, 'fast')).to.equal('gpt-4o-mini');
    expect(upstreamModel(ch, 'gpt-4o')).to.equal('azure-gpt4o-deploy');
    expect(upstreamModel(ch, 'other')).to.equal('other');
    expect(upstreamModel(ch, 'constructor')).to.equal('constructor');
  });

  it('keeps groups apart', () => {
    const index = RoutingIndex.build(
      [channel({ id: 1, groups: ['vip'] }), channel({ id: 2, groups: ['default', 'vip'] })],
      plain,
    );
    expect(index.tiers('default', 'gpt-4o')[0]!.channels.map((c) => c.id)).to.deep.equal([2]);
    expect(index.tiers('vip', 'gpt-4o')[0]!.channels.map((c) => c.id)).to.deep.equal([1, 2]);
    expect(index.tiers('nobody', 'gpt-4o')).to.deep.equal([]);
  });
});

describe('channel selection with channel health', () => {
  const index = RoutingIndex.build(
    [channel({ id: 1, priority: 10 }), channel({ id: 2, priority: 10 }), channel({ id: 3, priority: 0 })],
    plain,
  );
  const tiers = index.tiers('default', 'gpt-4o');

  it('passes over blocked channels, even of a higher tier, while another can serve', () => {
    const blocked = new Set([1, 2]);
    const health = { blocked: (id: number) => blocked.has(id), lastFailedAt: () => 0 };
    for (let i = 0; i < 50; i++) expect(selectChannel(tiers, new Set(), Math.random, health)!.id).to.equal(3);
  });

  it('with every channel blocked, tries the one that failed least recently', () => {
    const failedAt = new Map([
      [1, 300],
      [2, 100],
      [3, 200],
    ]);
    const health = { blocked: () => true, lastFailedAt: (id: number) => failedAt.get(id)! };
    expect(selectChannel(tiers, new Set(), Math.random, health)!.id).to.equal(2);
    expect(selectChannel(tiers, new Set([2]), Math.random, health)!.id).to.equal(3);
    expect(selectChannel(tiers, new Set([1, 2, 3]), Math.random, health)).to.equal(undefined);
  });
});
