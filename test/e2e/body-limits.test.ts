import zlib from 'node:zlib';
import { expect } from 'chai';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawConnect, type RawClient } from '../helpers/raw-socket.js';

/** `depth` nested arrays: `[[[…]]]`. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('request bodies: authenticated before read, bounded in size, depth, type and encoding', function () {
  this.timeout(30_000);
  let gw: TestGateway;
  let userKey: string;
  const sockets: RawClient[] = [];

  const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${gw.url}${path}`, { method: 'POST', body, headers });
  const errorOf = async (res: Response) => ((await res.json()) as { error: Record<string, string> }).error;

  before(async () => {
    gw = await startTestGateway({ env: { MAX_ADMIN_BODY: '256kb', MAX_BODY: '2mb', MAX_JSON_DEPTH: '32' } });
    userKey = (await gw.token()).key;
  });
  after(async () => {
    for (const s of sockets) s.socket.destroy();
    await gw.stop();
  });

  const connect = async () => {
    const s = await rawConnect(gw.url);
    sockets.push(s);
    return s;
  };

  describe('admin API', () => {
    it('answers an unauthenticated write 401 without reading its body (even a malformed, deep one)', async () => {
      const res = await post('/api/channels', nested(20_000) + 'x', {
        authorization: 'Bearer wrong-token-0123456789',
        'content-type': 'application/json',
      });
      expect(res.status).to.equal(401);
      // The body is never waited for: headers alone get the 401, and the connection is closed.
      const s = await connect();
      s.socket.write(
        'POST /api/channels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-0123456789\r\n' +
          'Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n[[[[',
      );
      expect(await s.closed(3000)).to.not.equal('open');
      expect(s.received()).to.match(/^HTTP\/1\.1 401/);
      expect(s.received().toLowerCase()).to.contain('connection: close');
    });

    it('413 naming MAX_ADMIN_BODY as soon as a body passes it, and the connection closes unread', async () => {
      const s = await connect();
      s.socket.write(
        `POST /api/channels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
          'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 5; i++) s.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      // 320 KB of a body that never ends: refused without waiting for the rest.
      expect(await s.closed(3000)).to.not.equal('open');
      expect(s.received()).to.match(/^HTTP\/1\.1 413/);
      expect(s.received()).to.contain('MAX_ADMIN_BODY');

      const declared = await post('/api/channels', 'x'.repeat(300 * 1024), {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
      });
      expect(declared.status).to.equal(413);
      expect((await errorOf(declared)).message).to.contain('MAX_ADMIN_BODY');
    });

    it('400 json_too_deep past MAX_JSON_DEPTH, before parsing', async () => {
      const res = await post('/api/channels', `{"name":${nested(40)}}`, {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
      });
      expect(res.status).to.equal(400);
      expect((await errorOf(res)).code).to.equal('json_too_deep');
    });

    it('415 for a write whose body is not JSON, or is compressed', async () => {
      const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const text = await post('/api/tokens', '{"name":"t"}', { ...auth, 'content-type': 'text/plain' });
      expect(text.status).to.equal(415);
      expect((await errorOf(text)).code).to.equal('unsupported_media_type');
      const none = await post('/api/tokens', Buffer.from('{"name":"t"}'), auth);
      expect(none.status).to.equal(415);
      for (const [encoding, body] of [
        ['gzip', zlib.gzipSync('{"name":"t"}')],
        ['gzip', Buffer.from('not gzip at all')],
        ['br', Buffer.from('not brotli')],
      ] as const) {
        const r = await post('/api/tokens', body, {
          ...auth,
          'content-type': 'application/json',
          'content-encoding': encoding,
        });
        expect(r.status, encoding).to.equal(415);
      }
    });
  });

  describe('relay (/v1)', () => {
    const headers = () => ({ authorization: `Bearer ${userKey}`, 'content-type': 'application/json' });

    it('400 json_too_deep for 100,000 levels of nesting (it was a 500), and for 33', async () => {
      for (const depth of [100_000, 33]) {
        const res = await post(
          '/v1/chat/completions',
          `{"model":"gpt-4o","messages":${nested(depth)}}`,
          headers(),
        );
        expect(res.status, String(depth)).to.equal(400);
        expect((await errorOf(res)).code).to.equal('json_too_deep');
      }
      // Brackets inside strings are text, not nesting.
      const inString = await post(
        '/v1/chat/completions',
        JSON.stringify({
          model: 'no-such-model',
          messages: [{ role: 'user', content: '[[[['.repeat(1000) }],
        }),
        headers(),
      );
      expect(inString.status).to.not.equal(400);
    });

    it('415 for a body that is not JSON or is compressed; 413 naming MAX_BODY', async () => {
      const text = await post('/v1/chat/completions', '{}', { ...headers(), 'content-type': 'text/plain' });
      expect(text.status).to.equal(415);
      const gz = await post('/v1/chat/completions', zlib.gzipSync('{"model":"gpt-4o"}'), {
        ...headers(),
        'content-encoding': 'gzip',
      });
      expect(gz.status).to.equal(415);
      const big = await post('/v1/chat/completions', 'x'.repeat(3 * 1024 * 1024), headers());
      expect(big.status).to.equal(413);
      expect((await errorOf(big)).message).to.contain('MAX_BODY');
    });
  });
});
