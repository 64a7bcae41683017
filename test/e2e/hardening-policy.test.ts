import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { callJson } from '../helpers/http.js';
import { apiError } from '../helpers/openai.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('hardening: quota holds, token limits, and bad input answered 4xx', function () {
  this.timeout(30_000);
  let fake: FakeUpstream;
  let gw: TestGateway;
  /** A user-role admin API token, and the user's id. */
  let user: { id: number; access: string };

  const as = (token: string, method: string, path: string, body?: unknown) =>
    callJson(gw.url, token, method, path, body);
  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });

  before(async () => {
    fake = await startFakeUpstream();
    gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false', QUOTA_RESERVE_TOKENS: '0' } });
    // $2 per 1M tokens = 1 quota unit per token.
    await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 2 });
    await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o'] });
    const u = (await gw.admin('POST', '/api/users', { username: 'hardy' })).body.data;
    const access = (await gw.admin('POST', `/api/users/${u.id}/access-tokens`, {})).body.data.token;
    user = { id: u.id, access };
  });
  after(async () => {
    await gw.stop();
    await fake.close();
  });

  it('holds the largest of max_tokens, max_completion_tokens and max_output_tokens (no bypass with a 0)', async () => {
    const token = await gw.token({ quota: 100 });
    for (const limits of [
      { max_completion_tokens: 0, max_tokens: 100_000 },
      { max_tokens: 0, max_completion_tokens: 100_000 },
      { max_tokens: 1, max_output_tokens: 100_000 },
    ]) {
      const err = await apiError(
        client(token.key).chat.completions.create({ model: 'gpt-4o', messages, ...limits } as any),
      );
      expect([err.status, err.code], JSON.stringify(limits)).to.deep.equal([429, 'insufficient_quota']);
    }
    // Within its quota it is served.
    const ok = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 20 });
    expect(ok.choices[0]!.message.content).to.equal('Hello from a as gpt-4o');
  });

  it("a user can tighten its token's limits, never loosen or remove them", async () => {
    const t = (
      await gw.admin('POST', '/api/tokens', {
        name: 'limited',
        user_id: user.id,
        quota: 1000,
        rpm_limit: 10,
        tpm_limit: 1000,
        models: ['gpt-4o', 'gpt-4o-mini'],
        subnets: ['10.0.0.0/8'],
        expires_at: '2030-01-01T00:00:00Z',
      })
    ).body.data;
    const loosen: Record<string, unknown>[] = [
      { quota: null },
      { quota: 1001 },
      { rpm_limit: null },
      { rpm_limit: 11 },
      { tpm_limit: null },
      { models: null },
      { models: ['gpt-4o', 'o3'] },
      { subnets: null },
      { subnets: ['0.0.0.0/0'] },
      { expires_at: null },
      { expires_at: '2031-01-01T00:00:00Z' },
    ];
    for (const patch of loosen) {
      const r = await as(user.access, 'PATCH', `/api/tokens/${t.id}`, patch);
      expect(r.status, JSON.stringify(patch)).to.equal(403);
      expect(r.body.error.param).to.equal(Object.keys(patch)[0]);
    }
    const tighten = await as(user.access, 'PATCH', `/api/tokens/${t.id}`, {
      quota: 500,
      rpm_limit: 5,
      tpm_limit: 1000,
      models: ['gpt-4o'],
      expires_at: '2029-01-01T00:00:00Z',
      name: 'renamed',
    });
    expect(tighten.status, JSON.stringify(tighten.body)).to.equal(200);
    expect(tighten.body.data).to.include({ quota: 500, rpm_limit: 5, name: 'renamed' });
    // An admin still may.
    expect((await gw.admin('PATCH', `/api/tokens/${t.id}`, { quota: null, models: null })).status).to.equal(
      200,
    );
  });

  it('GET /api/cluster is for admins', async () => {
    expect((await as(user.access, 'GET', '/api/cluster')).status).to.equal(403);
    expect((await gw.admin('GET', '/api/cluster')).status).to.equal(200);
  });

  it('bad input is a 4xx, never a 500: dates out of range, malformed percent-encoding, balances past 2^53', async () => {
    for (const expires_at of [1e300, 9e15, '+275760-09-13T00:00:01Z', '10000-01-01T00:00:00Z']) {
      const r = await gw.admin('POST', '/api/tokens', { name: `e${Math.random()}`, expires_at });
      expect(r.status, String(expires_at)).to.equal(400);
      expect(r.body.error.param).to.equal('expires_at');
    }
    for (const path of [
      '/api/channels/%E0%A4%A',
      '/api/tokens/%',
      '/api/prices/%zz',
      '/v1/models/%E0%A4%A',
    ]) {
      const r = await fetch(`${gw.url}${path}`, { headers: { authorization: 'Bearer sk-nope-0123456789' } });
      expect(r.status, path).to.be.within(400, 499);
      const a = await gw.admin('GET', path);
      expect(a.status, path).to.be.within(400, 499);
    }
    const t = await gw.token({ quota: 10 });
    const past = await gw.admin('POST', `/api/tokens/${t.id}/quota`, { delta: Number.MAX_SAFE_INTEGER });
    expect(past.status).to.equal(400);
    expect(past.body.error.code).to.equal('quota_out_of_range');
    expect((await gw.admin('GET', `/api/tokens/${t.id}`)).body.data.quota).to.equal(10);
  });

  it('a 5 MB model name is not echoed back whole', async () => {
    const token = await gw.token();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm'.repeat(5 * 1024 * 1024), messages }),
    });
    expect(res.status).to.equal(400);
    const text = await res.text();
    expect(text.length).to.be.below(2000);
    expect(JSON.parse(text).error.param).to.equal('model');
  });

  it("answers upstream failures with the gateway's words: no upstream text, no channel id", async () => {
    await gw.admin('PUT', '/api/prices/leaky', { input: 2, output: 2 });
    const token = await gw.token();
    for (const base_url of [fake.baseUrl('leak', '500'), fake.baseUrl('leak', '400'), 'http://127.0.0.1:1']) {
      const ch = await gw.channel({ name: `leak-${base_url.length}`, base_url, models: ['leaky'] });
      const err = await apiError(client(token.key).chat.completions.create({ model: 'leaky', messages }));
      expect(err.status, base_url).to.be.within(400, 599);
      const shown = JSON.stringify(err.error);
      for (const leak of [
        'upstream exploded',
        'Invalid value',
        'channel ' + ch.id,
        '127.0.0.1',
        'sk-upstream',
      ])
        expect(shown, base_url).not.to.contain(leak);
      await gw.admin('DELETE', `/api/channels/${ch.id}`);
    }
  });

  it('refuses channel keys with control characters and base URLs with credentials', async () => {
    for (const key of ['sk-abc\r\ndef', 'sk-abc\ndef', 'sk-\u0000abc', 'sk-a\tb']) {
      const r = await gw.admin('POST', '/api/channels', { name: 'k', base_url: fake.baseUrl('k'), key });
      expect(r.status, JSON.stringify(key)).to.equal(400);
      expect(r.body.error.param).to.equal('key');
    }
    const r = await gw.admin('POST', '/api/channels', {
      name: 'u',
      base_url: 'https://user:secret-pass@api.example.com',
      key: 'sk-x',
    });
    expect(r.status).to.equal(400);
    expect(r.body.error.param).to.equal('base_url');
    expect(JSON.stringify(r.body)).not.to.contain('secret-pass');
  });
});
