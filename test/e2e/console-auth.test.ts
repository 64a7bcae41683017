import { expect } from 'chai';
import type { Driver } from '../helpers/databases.js';
import { callJson } from '../helpers/http.js';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { callWithCookie, postLogin, signIn } from '../helpers/console-session.js';

const PASSWORD = 'correct horse battery';

/** Creates a user with a password (as root, by bearer token); returns its id. */
async function addUser(gw: TestGateway, username: string, extra: Record<string, unknown> = {}) {
  const r = await gw.admin('POST', '/api/users', { username, password: PASSWORD, ...extra });
  expect(r.status, JSON.stringify(r.body)).to.equal(201);
  return r.body.data.id as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const driver of ['sqlite', 'mysql'] as Driver[]) {
  describe(`console sign-in on ${driver}`, function () {
    this.timeout(30_000);
    let gw: TestGateway;

    beforeEach(async () => {
      gw = await startTestGateway({ driver, env: { LOGIN_MAX_ATTEMPTS: '3', TRUST_PROXY: 'true' } });
    });
    afterEach(async () => {
      await gw.stop();
    });

    it('stores an argon2id hash, never the password, and signs in with it', async () => {
      const id = await addUser(gw, 'alice');
      const row = await gw.gateway.db('users').where({ id }).first();
      expect(row.password_hash).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      expect(JSON.stringify(row)).not.to.contain(PASSWORD);
      const user = await gw.admin('GET', `/api/users/${id}`);
      expect(JSON.stringify(user.body)).not.to.contain('argon2');
      expect(user.body.data.has_password).to.equal(true);
      const list = await gw.admin('GET', '/api/users');
      expect(list.body.data.map((u: any) => [u.username, u.has_password])).to.deep.equal([
        ['root', false],
        ['alice', true],
      ]);
      const s = await signIn(gw.url, { username: 'alice', password: PASSWORD });
      expect(s.user).to.deep.equal({ id, username: 'alice', role: 'user', group: 'default' });
      expect(s.csrf).to.match(/^[A-Za-z0-9_-]{43}$/);
      // Only the session id's hash is stored.
      const sessions = await gw.gateway.db('sessions').where({ user_id: id });
      expect(sessions).to.have.length(1);
      expect(JSON.stringify(sessions)).not.to.contain(s.cookie);
      const me = await s.call('GET', '/api/auth/me');
      expect(me.status).to.equal(200);
      expect(me.body.user).to.include({ id, username: 'alice', role: 'user' });
      expect(me.body.csrf_token).to.equal(s.csrf);
      expect(me.body).to.deep.include({ node: { role: 'single', master_url: null }, quota_per_usd: 500_000 });
    });

    it('refuses a wrong password or unknown user with 401 in the OpenAI shape, and a weak password with 400', async () => {
      await addUser(gw, 'bob');
      for (const body of [
        { username: 'bob', password: 'not the password' },
        { username: 'nobody', password: PASSWORD },
      ]) {
        const r = await postLogin(gw.url, body, { 'x-forwarded-for': `10.0.0.${body.username.length}` });
        expect(r.status).to.equal(401);
        expect(r.body.error).to.include({ type: 'invalid_request_error', code: 'invalid_credentials' });
        expect(r.body.error.message).to.match(/^Wrong username or password \(request id: /);
        expect(r.headers.getSetCookie()).to.deep.equal([]);
      }
      const short = await gw.admin('POST', '/api/users', { username: 'carol', password: 'short' });
      expect(short.status).to.equal(400);
      expect(short.body.error).to.include({ code: 'weak_password', param: 'password' });
      const long = await gw.admin('POST', '/api/users', { username: 'carol', password: 'x'.repeat(257) });
      expect(long.status).to.equal(400);
      expect((await gw.admin('GET', '/api/users?q=carol')).body.total).to.equal(0);
      // A form post (not JSON) cannot sign a browser in: 415, like every non-JSON body.
      const form = await fetch(`${gw.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `username=bob&password=${encodeURIComponent(PASSWORD)}`,
      });
      expect(form.status).to.equal(415);
    });

    it('sets the cookie HttpOnly, SameSite=Strict, Path=/, and Secure only over https (trusted proxy)', async () => {
      await addUser(gw, 'dave');
      const plain = await signIn(gw.url, { username: 'dave', password: PASSWORD });
      expect(plain.setCookie).to.match(/^sy_session=[A-Za-z0-9_-]{43}; /);
      expect(plain.setCookie).to.contain('HttpOnly');
      expect(plain.setCookie).to.contain('SameSite=Strict');
      expect(plain.setCookie).to.contain('Path=/');
      expect(plain.setCookie).to.match(/Max-Age=604800/);
      expect(plain.setCookie).not.to.contain('Secure');
      const https = await postLogin(
        gw.url,
        { username: 'dave', password: PASSWORD },
        { 'x-forwarded-proto': 'https' },
      );
      expect(https.status).to.equal(200);
      expect(https.headers.getSetCookie()[0]).to.match(/; Secure/);
    });

    it('does not trust X-Forwarded-Proto without TRUST_PROXY', async () => {
      const direct = await startTestGateway({ driver: 'sqlite' });
      try {
        const r = await postLogin(
          direct.url,
          { access_token: ADMIN_TOKEN },
          { 'x-forwarded-proto': 'https' },
        );
        expect(r.status).to.equal(200);
        expect(r.headers.getSetCookie()[0]).not.to.contain('Secure');
      } finally {
        await direct.stop();
      }
    });

    it('signs root in with an admin access token (the bootstrap), then root sets its password', async () => {
      const s = await signIn(gw.url, { access_token: ADMIN_TOKEN });
      expect(s.user).to.include({ username: 'root', role: 'root' });
      const bad = await postLogin(gw.url, { access_token: 'sya-not-a-token-at-all' });
      expect(bad.status).to.equal(401);
      // Root has no password yet: it sets one without a current password, and gets a new session.
      const set = await s.call('PUT', `/api/users/${s.user.id}/password`, { password: 'root password 2026' });
      expect(set.status, JSON.stringify(set.body)).to.equal(200);
      expect(set.body.data.sessions_revoked).to.equal(1);
      expect((await s.call('GET', '/api/auth/me')).status).to.equal(401);
      const fresh = await signIn(gw.url, { username: 'root', password: 'root password 2026' });
      expect((await fresh.call('GET', '/api/auth/me')).body.user.role).to.equal('root');
    });

    it('bearer tokens work as before: no CSRF token, and /api/auth/me answers csrf_token null', async () => {
      const me = await gw.admin('GET', '/api/auth/me');
      expect(me.status).to.equal(200);
      expect(me.body).to.deep.include({ csrf_token: null });
      expect(me.body.user.username).to.equal('root');
      const created = await gw.admin('POST', '/api/tokens', { name: 'by-bearer' });
      expect(created.status).to.equal(201);
      expect((await callJson(gw.url, 'wrong-token-0123456789', 'GET', '/api/auth/me')).status).to.equal(401);
      expect((await fetch(`${gw.url}/api/auth/me`)).status).to.equal(401);
    });

    it('refuses cookie-authenticated writes without the CSRF token (403 csrf_failed), allows reads', async () => {
      await addUser(gw, 'erin');
      const s = await signIn(gw.url, { username: 'erin', password: PASSWORD });
      const none = await s.call('POST', '/api/tokens', { name: 'x' }, { csrf: false });
      expect(none.status).to.equal(403);
      expect(none.body.error).to.include({ type: 'permission_error', code: 'csrf_failed' });
      const altered = s.csrf.slice(0, -1) + (s.csrf.endsWith('A') ? 'B' : 'A');
      const wrong = await s.call('POST', '/api/tokens', { name: 'x' }, { csrf: altered });
      expect(wrong.status).to.equal(403);
      const del = await s.call('DELETE', '/api/tokens/1', undefined, { csrf: false });
      expect(del.status).to.equal(403);
      expect((await s.call('GET', '/api/tokens', undefined, { csrf: false })).status).to.equal(200);
      expect((await gw.admin('GET', '/api/tokens')).body.total).to.equal(0);
      const ok = await s.call('POST', '/api/tokens', { name: 'x' });
      expect(ok.status).to.equal(201);
      // The CSRF token of another session does not do.
      const other = await signIn(gw.url, { username: 'erin', password: PASSWORD });
      const crossed = await s.call('POST', '/api/tokens', { name: 'y' }, { csrf: other.csrf });
      expect(crossed.status).to.equal(403);
      // A user session is still a user: admin routes refuse it.
      expect((await s.call('GET', '/api/channels')).status).to.equal(403);
    });

    it('sign-out revokes the session server-side and clears the cookie', async () => {
      await addUser(gw, 'frank');
      const s = await signIn(gw.url, { username: 'frank', password: PASSWORD });
      const noCsrf = await callWithCookie(gw.url, s.cookie, 'POST', '/api/auth/logout');
      expect(noCsrf.status).to.equal(403);
      const out = await s.call('POST', '/api/auth/logout');
      expect(out.status).to.equal(204);
      expect(out.headers.getSetCookie()[0]).to.match(/^sy_session=; .*Expires=Thu, 01 Jan 1970/);
      const row = await gw.gateway.db('sessions').where({ user_id: s.user.id }).first();
      expect(row.revoked_at).to.not.equal(null);
      const after = await s.call('GET', '/api/auth/me');
      expect(after.status).to.equal(401);
      expect(after.body.error.code).to.equal('session_expired');
      // Signing out again (or without a session) is harmless.
      expect((await s.call('POST', '/api/auth/logout')).status).to.equal(204);
    });

    it('a password change ends every session of the user; its own change gives the caller a new one', async () => {
      const id = await addUser(gw, 'gina');
      const a = await signIn(gw.url, { username: 'gina', password: PASSWORD });
      const b = await signIn(gw.url, { username: 'gina', password: PASSWORD });
      // By an admin: both sessions end.
      const byAdmin = await gw.admin('PUT', `/api/users/${id}/password`, { password: 'new password 0001' });
      expect(byAdmin.status).to.equal(200);
      expect(byAdmin.body).to.deep.equal({ data: { user_id: id, sessions_revoked: 2 }, csrf_token: null });
      expect((await a.call('GET', '/api/auth/me')).status).to.equal(401);
      expect((await b.call('GET', '/api/auth/me')).status).to.equal(401);
      expect((await postLogin(gw.url, { username: 'gina', password: PASSWORD })).status).to.equal(401);
      // By herself: the current password is needed, and checked.
      const c = await signIn(gw.url, { username: 'gina', password: 'new password 0001' });
      const d = await signIn(gw.url, { username: 'gina', password: 'new password 0001' });
      const missing = await c.call('PUT', `/api/users/${id}/password`, { password: 'new password 0002' });
      expect(missing.status).to.equal(400);
      expect(missing.body.error.param).to.equal('current_password');
      const wrong = await c.call('PUT', `/api/users/${id}/password`, {
        password: 'new password 0002',
        current_password: 'not it at all',
      });
      expect(wrong.status).to.equal(401);
      const weak = await c.call('PUT', `/api/users/${id}/password`, {
        password: 'short',
        current_password: 'new password 0001',
      });
      expect(weak.status).to.equal(400);
      const own = await callWithCookie(
        gw.url,
        c.cookie,
        'PUT',
        `/api/users/${id}/password`,
        { password: 'new password 0002', current_password: 'new password 0001' },
        { 'x-csrf-token': c.csrf },
      );
      expect(own.status).to.equal(200);
      expect(own.body.data.sessions_revoked).to.equal(2);
      expect((await c.call('GET', '/api/auth/me')).status).to.equal(401);
      expect((await d.call('GET', '/api/auth/me')).status).to.equal(401);
      const cookie = /sy_session=([^;]+)/.exec(own.headers.getSetCookie()[0]!)![1]!;
      const me = await callWithCookie(gw.url, cookie, 'GET', '/api/auth/me');
      expect(me.status).to.equal(200);
      expect(me.body.csrf_token).to.equal(own.body.csrf_token);
      // A user cannot set another user's password.
      const other = await addUser(gw, 'hank');
      const denied = await callWithCookie(
        gw.url,
        cookie,
        'PUT',
        `/api/users/${other}/password`,
        { password: 'hijacked password' },
        { 'x-csrf-token': own.body.csrf_token },
      );
      expect(denied.status).to.equal(404);
    });

    it('a role change or a disable ends the sessions of that user, not of others', async () => {
      const id = await addUser(gw, 'ivan');
      const other = await addUser(gw, 'judy');
      const s = await signIn(gw.url, { username: 'ivan', password: PASSWORD });
      const t = await signIn(gw.url, { username: 'judy', password: PASSWORD });
      const quota = await gw.admin('PATCH', `/api/users/${id}`, { quota: 1000 });
      expect(quota.status).to.equal(200);
      expect((await s.call('GET', '/api/auth/me')).status).to.equal(200);
      expect((await gw.admin('PATCH', `/api/users/${id}`, { role: 'admin' })).status).to.equal(200);
      expect((await s.call('GET', '/api/auth/me')).status).to.equal(401);
      const again = await signIn(gw.url, { username: 'ivan', password: PASSWORD });
      expect(again.user.role).to.equal('admin');
      expect((await again.call('GET', '/api/channels')).status).to.equal(200);
      expect((await gw.admin('PATCH', `/api/users/${id}`, { status: 'disabled' })).status).to.equal(200);
      expect((await again.call('GET', '/api/auth/me')).status).to.equal(401);
      const disabled = await postLogin(gw.url, { username: 'ivan', password: PASSWORD });
      expect(disabled.status).to.equal(401);
      expect(disabled.body.error.code).to.equal('user_disabled');
      expect((await t.call('GET', '/api/auth/me')).body.user.id).to.equal(other);
    });

    it('guesses sent all at once meet the same limit as guesses sent one by one', async () => {
      await addUser(gw, 'mia');
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          postLogin(
            gw.url,
            { username: 'mia', password: `parallel guess ${i}` },
            { 'x-forwarded-for': `10.3.0.${i}` },
          ),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 401)).to.have.length(3);
      expect(statuses.filter((s) => s === 429)).to.have.length(17);
    });

    it('limits failed attempts per username (any IP) and per IP (any username): 429 with Retry-After', async () => {
      await addUser(gw, 'kate');
      await addUser(gw, 'leo');
      // Three wrong passwords for kate from three addresses: her fourth attempt is refused, right or not.
      for (let i = 1; i <= 3; i++) {
        const r = await postLogin(
          gw.url,
          { username: 'kate', password: `wrong password ${i}` },
          { 'x-forwarded-for': `10.1.0.${i}` },
        );
        expect(r.status).to.equal(401);
      }
      const locked = await postLogin(
        gw.url,
        { username: 'kate', password: PASSWORD },
        { 'x-forwarded-for': '10.1.0.9' },
      );
      expect(locked.status).to.equal(429);
      expect(locked.body.error.code).to.equal('too_many_attempts');
      const retry = Number(locked.headers.get('retry-after'));
      expect(retry).to.be.within(890, 900);
      expect(locked.headers.getSetCookie()).to.deep.equal([]);
      // Another user is unaffected from a fresh address.
      expect(
        (await postLogin(gw.url, { username: 'leo', password: PASSWORD }, { 'x-forwarded-for': '10.1.0.9' }))
          .status,
      ).to.equal(200);
      // One address guessing three usernames is refused for every username, leo's right password too.
      for (const username of ['u1', 'u2', 'u3']) {
        const r = await postLogin(
          gw.url,
          { username, password: 'guess guess' },
          { 'x-forwarded-for': '10.2.0.1' },
        );
        expect(r.status).to.equal(401);
      }
      const byIp = await postLogin(
        gw.url,
        { username: 'leo', password: PASSWORD },
        { 'x-forwarded-for': '10.2.0.1' },
      );
      expect(byIp.status).to.equal(429);
      const tokenGuess = await postLogin(
        gw.url,
        { access_token: ADMIN_TOKEN },
        { 'x-forwarded-for': '10.2.0.1' },
      );
      expect(tokenGuess.status).to.equal(429);
    });
  });
}

describe('console session expiry', function () {
  this.timeout(30_000);
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  it('ends a session left idle for SESSION_IDLE_TIMEOUT; use keeps it alive', async () => {
    gw = await startTestGateway({ env: { SESSION_IDLE_TIMEOUT: '1s' } });
    const used = await signIn(gw.url, { access_token: ADMIN_TOKEN });
    const idle = await signIn(gw.url, { access_token: ADMIN_TOKEN });
    // Used every 200 ms for 2 s (twice the idle timeout): stays signed in.
    for (let i = 0; i < 10; i++) {
      await sleep(200);
      expect((await used.call('GET', '/api/auth/me')).status, `use ${i}`).to.equal(200);
    }
    const after = await idle.call('GET', '/api/auth/me');
    expect(after.status).to.equal(401);
    expect(after.body.error.code).to.equal('session_expired');
  });

  it('ends a session SESSION_MAX_AGE after sign-in however much it is used', async () => {
    gw = await startTestGateway({ env: { SESSION_IDLE_TIMEOUT: '1s', SESSION_MAX_AGE: '2s' } });
    const s = await signIn(gw.url, { access_token: ADMIN_TOKEN });
    expect(s.setCookie).to.match(/Max-Age=2;/);
    const started = Date.now();
    let lastOk = 0;
    while (Date.now() - started < 3000) {
      const r = await s.call('GET', '/api/auth/me');
      if (r.status === 200) lastOk = Date.now() - started;
      else break;
      await sleep(200);
    }
    expect(lastOk).to.be.within(1500, 2000);
    expect((await s.call('GET', '/api/auth/me')).status).to.equal(401);
  });
});
