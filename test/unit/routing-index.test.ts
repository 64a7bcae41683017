import { expect } from 'chai';
import { RoutingIndex } from '../../lib/cfg/routing-index.js';
import { channel } from '../helpers/fixtures.js';

const plain = (s: string) => s;
const ids = (index: RoutingIndex, group: string, model: string) =>
  index.tiers(group, model).flatMap((t) => t.channels.map((c) => c.id));

describe('routing index patches', () => {
  it('adds, edits and removes one channel without a rebuild', () => {
    const index = RoutingIndex.build([channel({ id: 1 }), channel({ id: 2, models: ['a'] })], plain);
    expect(index.models('default')).to.deep.equal(['a', 'gpt-4o']);

    index.upsert(channel({ id: 3, models: ['gpt-4o', 'b'], version: 2 }), plain);
    expect(ids(index, 'default', 'gpt-4o')).to.deep.equal([1, 3]);
    expect(ids(index, 'default', 'b')).to.deep.equal([3]);

    index.upsert(channel({ id: 3, models: ['b'], priority: 9, version: 3 }), plain);
    expect(ids(index, 'default', 'gpt-4o')).to.deep.equal([1]);
    expect(index.tiers('default', 'b')[0]!.priority).to.equal(9);

    index.remove(3);
    expect(ids(index, 'default', 'b')).to.deep.equal([]);
    expect(index.models('default')).to.deep.equal(['a', 'gpt-4o']);
  });

  it('lists disabled channels nowhere but remembers their version', () => {
    const index = RoutingIndex.build([channel({ id: 1 })], plain);
    index.upsert(channel({ id: 1, status: 'disabled', version: 5 }), plain);
    expect(ids(index, 'default', 'gpt-4o')).to.deep.equal([]);
    expect(index.models('default')).to.deep.equal([]);
    expect(index.versions().get(1)).to.equal(5);
  });

  it('never lets an older version overwrite a newer one', () => {
    const index = RoutingIndex.build([channel({ id: 1, models: ['new'], version: 7 })], plain);
    expect(index.upsert(channel({ id: 1, models: ['old'], version: 6 }), plain)).to.equal(false);
    expect(ids(index, 'default', 'new')).to.deep.equal([1]);
    expect(ids(index, 'default', 'old')).to.deep.equal([]);
  });

  it('keeps the tier array a request holds unchanged when the index is patched', () => {
    const index = RoutingIndex.build([channel({ id: 1 })], plain);
    const held = index.tiers('default', 'gpt-4o');
    index.upsert(channel({ id: 2, version: 2 }), plain);
    expect(held[0]!.channels.map((c) => c.id)).to.deep.equal([1]);
    expect(ids(index, 'default', 'gpt-4o')).to.deep.equal([1, 2]);
  });

  it('decrypts the upstream key of enabled channels only', () => {
    const index = RoutingIndex.build(
      [channel({ id: 1, keyEnc: 'enc-a' }), channel({ id: 2, keyEnc: 'enc-b', status: 'disabled' })],
      (s) => s.replace('enc-', 'plain-'),
    );
    expect(index.channel(1)!.apiKey).to.equal('plain-a');
    expect(index.channel(2)!.apiKey).to.equal('');
  });
});
