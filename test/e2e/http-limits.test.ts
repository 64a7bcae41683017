import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawConnect, type RawClient } from '../helpers/raw-socket.js';

/** Slack for node's timeout check (it runs every HTTP_HEADERS_TIMEOUT/4 here) on a loaded machine. */
const SLACK_MS = 1500;

describe('HTTP limits: slow, idle and too many clients', function () {
  this.timeout(30_000);
  let fake: FakeUpstream;
  let gw: TestGateway;
  const sockets: RawClient[] = [];

  const metric = async (name: string) => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return line ? Number(line.split(' ')[1]) : NaN;
  };

  before(async () => {
    fake = await startFakeUpstream();
    gw = await startTestGateway({
      env: {
        HTTP_HEADERS_TIMEOUT: '500ms',
        HTTP_REQUEST_TIMEOUT: '1s',
        HTTP_KEEP_ALIVE_TIMEOUT: '500ms',
        MAX_CONNECTIONS: '20',
      },
    });
    await gw.channel({ name: 'a', base_url: fake.baseUrl('a', 'gate'), models: ['gpt-4o'] });
  });
  after(async () => {
    fake.release();
    await gw.stop();
    await fake.close();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.socket.destroy();
  });

  const connect = async () => {
    const s = await rawConnect(gw.url);
    sockets.push(s);
    return s;
  };

  it('closes a connection that never sends anything', async () => {
    const s = await connect();
    const at = await s.closed(500 + SLACK_MS + 1000);
    expect(at).to.not.equal('open');
  });

  it('answers 408 and closes a client sending its headers a byte at a time (slowloris)', async () => {
    const s = await connect();
    void s.dribble('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100) + '\r\n\r\n', 50);
    const at = await s.closed(500 + SLACK_MS + 1000);
    expect(at).to.not.equal('open');
    expect(at as number).to.be.below(500 + SLACK_MS + 500);
    expect(s.received()).to.match(/^HTTP\/1\.1 408/);
    expect(await metric('http_requests_timed_out_total')).to.be.at.least(1);
  });

  for (const [name, path] of [
    ['a relay', '/v1/chat/completions'],
    ['an admin', '/api/channels'],
  ] as const) {
    it(`closes ${name} request whose body comes a byte at a time`, async () => {
      const token = path.startsWith('/v1') ? (await gw.token()).key : ADMIN_TOKEN;
      const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      const s = await connect();
      s.socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length + 100}\r\n\r\n`,
      );
      void s.dribble(body + ' '.repeat(100), 100);
      const at = await s.closed(1000 + SLACK_MS + 1000);
      expect(at).to.not.equal('open');
      expect(at as number).to.be.below(1000 + SLACK_MS + 500);
    });
  }

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT', async () => {
    const s = await connect();
    s.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const at = await s.closed(500 + SLACK_MS + 1000);
    expect(s.received()).to.match(/^HTTP\/1\.1 200/);
    expect(at).to.not.equal('open');
  });

  it('never cuts an answer: a stream that lasts longer than every client timeout ends whole', async () => {
    const token = await gw.token();
    const client = new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    setTimeout(() => fake.release(), 2500);
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).to.equal('Hello from a as gpt-4o');
  });

  it('refuses connections beyond MAX_CONNECTIONS, counts them, and accepts again once some close', async () => {
    const before = await metric('http_connections_refused_total');
    const held: RawClient[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await connect();
      // Keep each one busy so it is not an idle socket the server may close.
      s.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      held.push(s);
    }
    const extra = await connect();
    expect(await extra.closed(2000)).to.not.equal('open');
    for (const s of held) s.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await metric('http_connections_refused_total')).to.be.at.least(before + 1);
    const ok = await fetch(`${gw.url}/healthz`);
    expect(ok.status).to.equal(200);
  });
});
