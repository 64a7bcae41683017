import { expect } from 'chai';
import type { Driver } from '../helpers/databases.js';
import { callJson } from '../helpers/http.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

for (const driver of ['sqlite', 'mysql'] as Driver[]) {
  describe(`admin API on ${driver}`, function () {
    this.timeout(20_000);
    let gw: TestGateway;
    const channel = {
      name: 'openai-main',
      base_url: 'https://api.openai.com/',
      key: 'sk-proj-supersecretkey1234',
      models: ['gpt-4o'],
    };

    beforeEach(async () => {
      gw = await startTestGateway({ driver });
    });
    afterEach(async () => {
      await gw.stop();
    });

    /** Calls the API with another bearer token. */
    const as = (token: string, method: string, path: string, body?: unknown) =>
      callJson(gw.url, token, method, path, body);

    describe('channels', () => {
      it('creates with defaults, never shows the key, and reads back', async () => {
        const created = await gw.admin('POST', '/api/channels', channel);
        expect(created.status).to.equal(201);
        const ch = created.body.data;
        expect(ch).to.include({
          name: 'openai-main',
          type: 'openai',
          base_url: 'https://api.openai.com',
          priority: 0,
          weight: 1,
          status: 'enabled',
          key_masked: 'sk-…1234',
          version: 2,
        });
        expect(ch.groups).to.deep.equal(['default']);
        expect(ch.model_mapping).to.deep.equal({});
        expect(JSON.stringify(created.body)).not.to.contain('supersecret');
        const got = await gw.admin('GET', `/api/channels/${ch.id}`);
        const { health, ...stored } = got.body.data;
        expect(stored).to.deep.equal(ch);
        // Reads add the channel's health: never tested, no traffic, no cooldown.
        expect(health).to.deep.equal({ last_test: null, stats: null, models: [] });
        expect(JSON.stringify(got.body)).not.to.contain('supersecret');
      });

      it('lists with filters and pagination', async () => {
        await gw.channel({ ...channel, name: 'a', models: ['gpt-4o'] });
        await gw.channel({ ...channel, name: 'b', models: ['claude'], groups: ['vip'] });
        await gw.channel({ ...channel, name: 'c', models: ['gpt-4o'], status: 'disabled' });
        const all = await gw.admin('GET', '/api/channels?per_page=2');
        expect(all.body.total).to.equal(3);
        expect(all.body.data.map((c: { name: string }) => c.name)).to.deep.equal(['a', 'b']);
        const page2 = await gw.admin('GET', '/api/channels?per_page=2&page=2');
        expect(page2.body.data.map((c: { name: string }) => c.name)).to.deep.equal(['c']);
        expect(
          (await gw.admin('GET', '/api/channels?model=gpt-4o&status=enabled')).body.data.map(
            (c: { name: string }) => c.name,
          ),
        ).to.deep.equal(['a']);
        expect((await gw.admin('GET', '/api/channels?group=vip')).body.total).to.equal(1);
        expect((await gw.admin('GET', '/api/channels?q=b')).body.total).to.equal(1);
      });

      it('validates every field with a 400 that names it', async () => {
        const cases: [Record<string, unknown>, string][] = [
          [{ ...channel, weight: -1 }, 'weight'],
          [{ ...channel, priority: 1.5 }, 'priority'],
          [{ ...channel, base_url: 'ftp://x' }, 'base_url'],
          [{ ...channel, base_url: 'https://api.openai.com/v1' }, 'base_url'],
          [{ ...channel, models: 'gpt-4o' }, 'models'],
          [{ ...channel, groups: ['has space'] }, 'groups.0'],
          [{ ...channel, status: 'on' }, 'status'],
          [{ ...channel, type: 'carrier-pigeon' }, 'type'],
          [{ ...channel, key: undefined }, 'key'],
          [{ ...channel, modles: ['x'] }, 'modles'],
        ];
        for (const [body, param] of cases) {
          const r = await gw.admin('POST', '/api/channels', body);
          expect(r.status, param).to.equal(400);
          expect(r.body.error.param, JSON.stringify(r.body)).to.equal(param);
          expect(r.body.error.type).to.equal('invalid_request_error');
        }
        const notJson = await fetch(`${gw.url}/api/channels`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer test-admin-token-0123456789',
            'content-type': 'application/json',
          },
          body: '{nope',
        });
        expect(notJson.status).to.equal(400);
      });

      it('409 on a duplicate name, 404 on an unknown or malformed id', async () => {
        await gw.channel(channel);
        const dup = await gw.admin('POST', '/api/channels', channel);
        expect(dup.status).to.equal(409);
        expect(dup.body.error.param).to.equal('name');
        expect((await gw.admin('GET', '/api/channels/999')).status).to.equal(404);
        expect((await gw.admin('PATCH', '/api/channels/999', { weight: 2 })).status).to.equal(404);
        expect((await gw.admin('DELETE', '/api/channels/999')).status).to.equal(404);
        expect((await gw.admin('GET', '/api/channels/abc')).status).to.equal(400);
      });

      it('patches only the given fields, bumps the version, and accepts echoed read-only fields', async () => {
        const ch = await gw.channel(channel);
        const patched = await gw.admin('PATCH', `/api/channels/${ch.id}`, { ...ch, weight: 7 });
        expect(patched.status).to.equal(200);
        expect(patched.body.data.weight).to.equal(7);
        expect(patched.body.data.models).to.deep.equal(['gpt-4o']);
        expect(patched.body.data.version).to.be.greaterThan(ch.version);
        const status = await fetch(`${gw.url}/api/status`).then(
          (r) => r.json() as Promise<Record<string, unknown>>,
        );
        expect(status.version).to.equal(patched.body.data.version);
      });
    });

    describe('tokens', () => {
      it('shows the key once, stores only its hash, and lists without it', async () => {
        const created = await gw.admin('POST', '/api/tokens', {
          name: 'ci',
          quota: 500,
          models: ['gpt-4o'],
          subnets: ['10.0.0.1'],
        });
        expect(created.status).to.equal(201);
        const t = created.body.data;
        expect(t.key).to.match(/^sk-[A-Za-z0-9]{48}$/);
        expect(t).to.include({
          name: 'ci',
          group: 'default',
          status: 'enabled',
          quota: 500,
          used_quota: 0,
          expires_at: null,
          key_prefix: t.key.slice(0, 8),
        });
        expect(t.subnets).to.deep.equal(['10.0.0.1/32']);
        const got = await gw.admin('GET', `/api/tokens/${t.id}`);
        expect(got.body.data.key).to.equal(undefined);
        const list = await gw.admin('GET', '/api/tokens');
        expect(list.body.total).to.equal(1);
        expect(JSON.stringify(list.body)).not.to.contain(t.key);
        const rows = await gw.gateway.db('tokens').select('key_hash');
        expect(rows[0].key_hash).to.match(/^[0-9a-f]{64}$/);
        expect(JSON.stringify(rows)).not.to.contain(t.key);
      });

      it('validates subnets, expiry and quota', async () => {
        expect(
          (await gw.admin('POST', '/api/tokens', { name: 'x', subnets: ['10.0.0.0/33'] })).body.error.param,
        ).to.equal('subnets.0');
        expect(
          (await gw.admin('POST', '/api/tokens', { name: 'x', expires_at: 'tomorrow' })).body.error.param,
        ).to.equal('expires_at');
        expect((await gw.admin('POST', '/api/tokens', { name: 'x', quota: -5 })).body.error.param).to.equal(
          'quota',
        );
        expect((await gw.admin('POST', '/api/tokens', { name: 'x', user_id: 999 })).status).to.equal(400);
        const t = await gw.token({ name: 'dup' });
        expect((await gw.admin('POST', '/api/tokens', { name: 'dup' })).status).to.equal(409);
        const patched = await gw.admin('PATCH', `/api/tokens/${t.id}`, {
          expires_at: 1893456000,
          quota: null,
        });
        expect(patched.body.data.expires_at).to.equal('2030-01-01T00:00:00.000Z');
      });
    });

    describe('users and roles', () => {
      it('refuses calls without a valid admin token', async () => {
        expect((await fetch(`${gw.url}/api/channels`)).status).to.equal(401);
        expect((await as('wrong-token', 'GET', '/api/channels')).status).to.equal(401);
      });

      it('gives an admin its own access token; a user manages only its own tokens', async () => {
        const admin = (await gw.admin('POST', '/api/users', { username: 'ops', role: 'admin' })).body.data;
        const adminToken = (
          await gw.admin('POST', `/api/users/${admin.id}/access-tokens`, { name: 'laptop' })
        ).body.data.token;
        expect(adminToken).to.match(/^sya-/);
        expect((await as(adminToken, 'GET', '/api/channels')).status).to.equal(200);
        // An admin may not create another admin or root.
        expect(
          (await as(adminToken, 'POST', '/api/users', { username: 'boss', role: 'root' })).status,
        ).to.equal(403);

        const user = (await as(adminToken, 'POST', '/api/users', { username: 'alice', group: 'vip' })).body
          .data;
        expect(user).to.include({ username: 'alice', role: 'user', group: 'vip' });
        const userToken = (await as(adminToken, 'POST', `/api/users/${user.id}/access-tokens`, {})).body.data
          .token;
        expect((await as(userToken, 'GET', '/api/channels')).status).to.equal(403);
        expect((await as(userToken, 'GET', '/api/users')).status).to.equal(403);
        const own = await as(userToken, 'POST', '/api/tokens', { name: 'mine' });
        expect(own.status).to.equal(201);
        expect(own.body.data.group).to.equal('vip');
        expect((await as(userToken, 'POST', '/api/tokens', { name: 'x', group: 'default' })).status).to.equal(
          403,
        );
        await gw.token({ name: 'roots' });
        const visible = await as(userToken, 'GET', '/api/tokens');
        expect(visible.body.data.map((t: { name: string }) => t.name)).to.deep.equal(['mine']);
        const rootsToken = (await gw.admin('GET', '/api/tokens?q=roots')).body.data[0];
        expect((await as(userToken, 'GET', `/api/tokens/${rootsToken.id}`)).status).to.equal(404);
        expect((await as(userToken, 'GET', '/api/users/me')).body.data.username).to.equal('alice');

        // Revoking the access token or disabling the user stops it at once.
        await gw.admin('PATCH', `/api/users/${user.id}`, { status: 'disabled' });
        expect((await as(userToken, 'GET', '/api/tokens')).status).to.equal(401);
        const tokens = (await gw.admin('GET', `/api/users/${admin.id}/access-tokens`)).body.data;
        await gw.admin('DELETE', `/api/users/${admin.id}/access-tokens/${tokens[0].id}`);
        expect((await as(adminToken, 'GET', '/api/channels')).status).to.equal(401);
      });

      it('validates users and refuses duplicates', async () => {
        expect((await gw.admin('POST', '/api/users', { username: 'bad name' })).body.error.param).to.equal(
          'username',
        );
        expect(
          (await gw.admin('POST', '/api/users', { username: 'bob', role: 'king' })).body.error.param,
        ).to.equal('role');
        await gw.admin('POST', '/api/users', { username: 'bob' });
        expect((await gw.admin('POST', '/api/users', { username: 'bob' })).status).to.equal(409);
        const list = await gw.admin('GET', '/api/users');
        expect(list.body.data.map((u: { username: string }) => u.username)).to.deep.equal(['root', 'bob']);
      });
    });

    it('stores prices, groups and rate limits at their largest allowed values', async () => {
      const huge = { rpm_limit: 100_000_000, tpm_limit: 10_000_000_000 };
      const group = await gw.admin('PUT', '/api/groups/big', { ratio: 0.25, ...huge });
      expect(group.status).to.equal(200);
      expect(group.body.data).to.include({ ratio: 0.25, ...huge });
      const token = await gw.admin('POST', '/api/tokens', { name: 'big', ...huge });
      expect(token.body.data).to.include(huge);
      const price = await gw.admin('PUT', '/api/prices/m', {
        input: 0.075,
        output: 1_000_000,
        cached_input: 0,
      });
      expect(price.body.data).to.include({ input: 0.075, output: 1_000_000, cached_input: 0 });
      expect((await gw.admin('GET', '/api/groups')).body.data.map((g: any) => g.name)).to.deep.equal(['big']);
      const long = 'm'.repeat(128); // the longest model name: also the id of its config change
      expect((await gw.admin('PUT', `/api/prices/${long}`, { input: 1, output: 1 })).status).to.equal(200);
      expect((await gw.admin('DELETE', `/api/prices/${long}`)).status).to.equal(204);
    });

    it('reports status without auth', async () => {
      const status = (await fetch(`${gw.url}/api/status`).then((r) => r.json())) as Record<string, unknown>;
      expect(status).to.include({ role: 'single', state: 'LIVE' });
      expect(status.epoch).to.be.a('string');
      expect(status.version).to.equal(status.db_version);
      expect(status.started_at).to.be.a('string');
      expect((await fetch(`${gw.url}/readyz`)).status).to.equal(200);
      const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
      expect(metrics).to.contain('http_requests_total');
      expect(metrics).to.contain('cfg_version_applied');
    });

    it('answers an unknown route with an OpenAI-shaped 404', async () => {
      // (An unknown GET outside /api, /v1 and /admin is the web console's: its page answers it.)
      const res = await fetch(`${gw.url}/v2/nothing`, { method: 'POST' });
      expect(res.status).to.equal(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('unknown_url');
      const api = await gw.admin('GET', '/api/nothing');
      expect(api.status).to.equal(404);
      expect(api.body.error.code).to.equal('unknown_url');
    });
  });
}
