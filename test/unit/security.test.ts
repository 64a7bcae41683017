import { expect } from 'chai';
import { generateKey, hashKey, maskSecret } from '../../lib/security/keys.js';
import { SecretBox } from '../../lib/security/secret-box.js';

describe('secrets', () => {
  it('encrypts with AES-256-GCM: round-trips, never the same twice, refuses another secret', () => {
    const a = new SecretBox('a-secret-of-sixteen+');
    const sealed = a.encrypt('sk-upstream-123');
    expect(sealed).to.match(/^v1:/);
    expect(sealed).not.to.contain('sk-upstream');
    expect(a.encrypt('sk-upstream-123')).not.to.equal(sealed);
    expect(a.decrypt(sealed)).to.equal('sk-upstream-123');
    expect(() => new SecretBox('another-secret-0000').decrypt(sealed)).to.throw();
  });

  it('generates distinct sk- keys and hashes them with SHA-256', () => {
    const k = generateKey('sk-');
    expect(k).to.match(/^sk-[A-Za-z0-9]{48}$/);
    expect(generateKey('sk-')).not.to.equal(k);
    expect(hashKey('abc')).to.equal('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('masks secrets to a recognisable stub', () => {
    expect(maskSecret('sk-proj-abcdefghijklmnop')).to.equal('sk-…mnop');
    expect(maskSecret('short')).to.equal('*****');
  });
});
