import { expect } from 'chai';
import type { UserRecord } from '../../lib/db/repositories/user.repository.js';
import { AuthenticationError } from '../../lib/errors/authentication.error.js';
import { PermissionError } from '../../lib/errors/permission.error.js';
import { checkModelAllowed, checkTokenUsable, ipAllowed } from '../../lib/relay/token-check.js';
import { tokenRecord } from '../helpers/fixtures.js';

const token = tokenRecord;

const user: UserRecord = {
  id: 1,
  username: 'u',
  role: 'user',
  group: 'default',
  quota: null,
  usedQuota: 0,
  status: 'enabled',
  rpmLimit: null,
  tpmLimit: null,
  version: 1,
  createdAt: 0,
  updatedAt: 0,
};

function errorOf(fn: () => void): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('token checks', () => {
  it('accepts a plain enabled token', () => {
    expect(errorOf(() => checkTokenUsable(token(), user, '127.0.0.1'))).to.equal(undefined);
  });

  it('refuses a disabled token with 401 token_disabled', () => {
    const err = errorOf(() => checkTokenUsable(token({ status: 'disabled' }), user, '127.0.0.1'));
    expect(err).to.be.instanceOf(AuthenticationError);
    expect(err.status).to.equal(401);
    expect(err.code).to.equal('token_disabled');
  });

  it('refuses an expired token, and accepts one that expires later', () => {
    const now = Date.now();
    expect(
      errorOf(() => checkTokenUsable(token({ expiresAt: now - 1 }), user, '1.2.3.4', now)).code,
    ).to.equal('token_expired');
    expect(
      errorOf(() => checkTokenUsable(token({ expiresAt: now + 60_000 }), user, '1.2.3.4', now)),
    ).to.equal(undefined);
  });

  it('refuses a token whose user is disabled or gone', () => {
    expect(
      errorOf(() => checkTokenUsable(token(), { ...user, status: 'disabled' }, '1.2.3.4')).code,
    ).to.equal('user_disabled');
    expect(errorOf(() => checkTokenUsable(token(), undefined, '1.2.3.4')).code).to.equal('user_disabled');
  });

  it('checks the client IP against the subnets, IPv4, IPv6 and IPv4-mapped', () => {
    const t = token({ subnets: ['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8'] });
    expect(ipAllowed(t, '10.200.3.4')).to.equal(true);
    expect(ipAllowed(t, '::ffff:10.1.1.1')).to.equal(true);
    expect(ipAllowed(t, '192.168.1.7')).to.equal(true);
    expect(ipAllowed(t, '192.168.1.8')).to.equal(false);
    expect(ipAllowed(t, 'fd12::1')).to.equal(true);
    expect(ipAllowed(t, '2001:db8::1')).to.equal(false);
    expect(ipAllowed(t, 'garbage')).to.equal(false);
    const err = errorOf(() => checkTokenUsable(t, user, '8.8.8.8'));
    expect(err).to.be.instanceOf(PermissionError);
    expect(err.status).to.equal(403);
    expect(err.code).to.equal('ip_not_allowed');
  });

  it('enforces the model allow-list with 403 model_not_allowed', () => {
    const t = token({ models: ['gpt-4o-mini'] });
    expect(errorOf(() => checkModelAllowed(t, 'gpt-4o-mini'))).to.equal(undefined);
    const err = errorOf(() => checkModelAllowed(t, 'gpt-4o'));
    expect(err.status).to.equal(403);
    expect(err.code).to.equal('model_not_allowed');
    expect(errorOf(() => checkModelAllowed(token(), 'anything'))).to.equal(undefined);
  });
});
