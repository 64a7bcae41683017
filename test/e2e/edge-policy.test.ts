import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { apiError } from '../helpers/openai.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('edge policies: upstream addresses (SSRF), CORS, /metrics token, break-glass ADMIN_TOKEN', function () {
  this.timeout(30_000);
  let fake: FakeUpstream;
  let gw: TestGateway | undefined;

  const client = (apiKey: string) =>
    new OpenAI({ apiKey, baseURL: `${gw!.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const test = async (id: number) => (await gw!.admin('POST', `/api/channels/${id}/test`, {})).body.data;

  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  describe('UPSTREAM_DENY_PRIVATE=true', () => {
    beforeEach(async () => {
      gw = await startTestGateway({ env: { UPSTREAM_DENY_PRIVATE: 'true' } });
    });

    it('refuses loopback, a name resolving to it, and the metadata address, on relay, tests and model lists', async () => {
      const port = new URL(fake.url).port;
      const loop = await gw!.channel({ name: 'loop', base_url: fake.baseUrl('loop'), models: ['gpt-4o'] });
      const named = await gw!.channel({
        name: 'named',
        base_url: `http://localhost:${port}/named/ok`,
        models: ['gpt-4o'],
        priority: -1,
      });
      const meta = await gw!.channel({
        name: 'meta',
        base_url: 'http://169.254.169.254',
        models: ['gpt-4o'],
      });
      for (const ch of [loop, named, meta]) {
        const r = await test(ch.id);
        expect(r.ok, ch.name).to.equal(false);
        expect(r.message, ch.name).to.contain('UPSTREAM_DENY_PRIVATE');
        const models = await gw!.admin('GET', `/api/channels/${ch.id}/upstream-models`);
        expect(models.status).to.be.within(400, 599);
        expect(JSON.stringify(models.body)).to.contain('refused');
      }
      const token = await gw!.token();
      const err = await apiError(client(token.key).chat.completions.create({ model: 'gpt-4o', messages }));
      expect(err.status).to.be.within(500, 504);
      expect(fake.requests.filter((r) => ['loop', 'named'].includes(r.label))).to.have.length(0);
    });
  });

  it('UPSTREAM_ALLOW lets listed addresses through with UPSTREAM_DENY_PRIVATE=true', async () => {
    gw = await startTestGateway({ env: { UPSTREAM_DENY_PRIVATE: 'true', UPSTREAM_ALLOW: '127.0.0.0/8' } });
    await gw.channel({ name: 'lan', base_url: fake.baseUrl('lan'), models: ['gpt-4o'] });
    const token = await gw.token();
    const answer = await client(token.key).chat.completions.create({ model: 'gpt-4o', messages });
    expect(answer.choices[0]!.message.content).to.equal('Hello from lan as gpt-4o');
  });

  it('the default lets loopback through (local model servers) but never the gateway itself', async () => {
    gw = await startTestGateway();
    const self = await gw.channel({ name: 'self', base_url: gw.url, models: ['gpt-4o'] });
    const r = await test(self.id);
    expect(r.ok).to.equal(false);
    expect(r.message).to.contain('this gateway');
    const other = await gw.channel({ name: 'ok', base_url: fake.baseUrl('ok'), models: ['gpt-4o'] });
    expect((await test(other.id)).ok).to.equal(true);
  });

  it('CORS on /v1 for the configured origins only; preflight answered; never credentials', async () => {
    gw = await startTestGateway({ env: { CORS_ORIGINS: 'https://app.example.com' } });
    const pre = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(pre.status).to.equal(204);
    expect(pre.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    expect(pre.headers.get('access-control-allow-headers')).to.contain('authorization');
    expect(pre.headers.get('access-control-allow-credentials')).to.equal(null);
    const denied = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(denied.status).to.equal(403);
    expect(denied.headers.get('access-control-allow-origin')).to.equal(null);
    const token = await gw.token();
    const list = await fetch(`${gw.url}/v1/models`, {
      headers: { origin: 'https://app.example.com', authorization: `Bearer ${token.key}` },
    });
    expect(list.headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    expect(list.headers.get('access-control-expose-headers')).to.contain('x-request-id');
    await gw.stop();

    gw = await startTestGateway({ env: { CORS_ORIGINS: '*' } });
    const any = await fetch(`${gw.url}/v1/models`, { headers: { origin: 'https://x.example' } });
    expect(any.headers.get('access-control-allow-origin')).to.equal('*');
    expect(any.headers.get('access-control-allow-credentials')).to.equal(null);
  });

  it('METRICS_TOKEN puts /metrics behind a bearer token', async () => {
    gw = await startTestGateway({ env: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    expect((await fetch(`${gw.url}/metrics`)).status).to.equal(401);
    const wrong = await fetch(`${gw.url}/metrics`, {
      headers: { authorization: 'Bearer nope-nope-nope-nope' },
    });
    expect(wrong.status).to.equal(401);
    const ok = await fetch(`${gw.url}/metrics`, {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.contain('event_loop_delay_seconds');
  });

  it('break-glass: ADMIN_TOKEN keeps working while the root user is disabled (the way back in)', async () => {
    gw = await startTestGateway();
    await gw.gateway.db('users').where({ role: 'root' }).update({ status: 'disabled' });
    const r = await gw.admin('GET', '/api/users');
    expect(r.status).to.equal(200);
  });
});
