import { expect } from 'chai';
import { IdentityCache, type IdentitySource } from '../../lib/cfg/identity-cache.js';
import type { TokenRecord } from '../../lib/db/repositories/token.repository.js';
import { tokenRecord } from '../helpers/fixtures.js';

function token(version: number, status: 'enabled' | 'disabled'): TokenRecord {
  return tokenRecord({ id: 7, keyHash: 'h7', keyPrefix: 'sk-', status, version });
}

/** A shared cache that still holds version 1 while the database has version 2. */
class StaleSource implements IdentitySource {
  reads: string[] = [];
  async tokenByHash(_hash: string, fresh = false) {
    this.reads.push(fresh ? 'db' : 'l2');
    return fresh ? token(2, 'disabled') : token(1, 'enabled');
  }
  async userById() {
    return undefined;
  }
}

describe('identity cache', () => {
  it('does not trust a shared-cache entry older than a change it was told of', async () => {
    const source = new StaleSource();
    const cache = new IdentityCache(source, { size: 10, ttlMs: 60_000 });
    expect((await cache.token('h7'))!.version).to.equal(1); // nothing known yet: the cache is believed
    cache.invalidateToken(7, 2);
    const after = (await cache.token('h7'))!;
    expect([after.version, after.status]).to.deep.equal([2, 'disabled']);
    expect(source.reads).to.deep.equal(['l2', 'l2', 'db']);
    // And the fresh value is what L1 keeps.
    expect((await cache.token('h7'))!.version).to.equal(2);
    expect(source.reads).to.have.length(3);
  });

  it('does not store a value read before an invalidation that raced it', async () => {
    let release!: () => void;
    const source: IdentitySource = {
      tokenByHash: () => new Promise((resolve) => (release = () => resolve(token(1, 'enabled')))),
      userById: async () => undefined,
    };
    const cache = new IdentityCache(source, { size: 10, ttlMs: 60_000 });
    const slow = cache.token('h7');
    cache.invalidateToken(7); // no version floor: only the generation guard is at work here
    release();
    await slow;
    expect(cache.sizes.tokens).to.equal(0);
  });

  it('remembers unknown keys briefly and forgets them when a token is created', async () => {
    let calls = 0;
    const source: IdentitySource = {
      tokenByHash: async () => (calls++, undefined),
      userById: async () => undefined,
    };
    const cache = new IdentityCache(source, { size: 10, ttlMs: 60_000 });
    await cache.token('nope');
    await cache.token('nope');
    expect(calls).to.equal(1);
    cache.invalidateToken(99, 5);
    await cache.token('nope');
    expect(calls).to.equal(2);
  });
});
