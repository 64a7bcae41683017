import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger, redactSecrets, SECRET_FIELDS } from '../../lib/obs/logger.js';

const SECRET = 'sk-secret-0123456789';

/** A logger writing its lines (parsed) to an array, synchronously. */
function capture() {
  const lines: Record<string, any>[] = [];
  const text: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        text.push(line);
        lines.push(JSON.parse(line) as Record<string, any>);
      }
      done();
    },
  });
  const logger = createLogger({ level: 'info', pretty: false, destination });
  return { logger, lines, text };
}

describe('log redaction', () => {
  it('replaces every secret field at the top of a log object', () => {
    const { logger, lines, text } = capture();
    for (const field of SECRET_FIELDS) logger.info({ [field]: SECRET, other: 'kept' }, 'm');
    expect(lines).to.have.length(SECRET_FIELDS.size);
    for (const line of lines) expect(line.other).to.equal('kept');
    expect(text.join('\n')).not.to.contain(SECRET);
    expect(lines.map((l) => Object.values(l).filter((v) => v === '[redacted]').length)).to.deep.equal(
      [...SECRET_FIELDS].map(() => 1),
    );
  });

  it('replaces secret fields one level down under any name, and leaves the rest of the object', () => {
    const { logger, lines, text } = capture();
    for (const field of SECRET_FIELDS) logger.warn({ channel: { id: 7, [field]: SECRET } }, 'm');
    expect(text.join('\n')).not.to.contain(SECRET);
    for (const [i, field] of [...SECRET_FIELDS].entries())
      expect(lines[i]!.channel).to.deep.equal({ id: 7, [field]: '[redacted]' });
  });

  it('replaces credential headers of a logged request or headers object, wherever it is', () => {
    const { logger, text, lines } = capture();
    const headers = {
      authorization: `Bearer ${SECRET}`,
      'x-api-key': SECRET,
      cookie: `sy_session=${SECRET}`,
      'x-csrf-token': SECRET,
      accept: 'application/json',
    };
    logger.info({ headers }, 'a');
    logger.info({ req: { method: 'POST', headers } }, 'b');
    logger.info({ upstream: { headers } }, 'c');
    expect(text.join('\n')).not.to.contain(SECRET);
    expect(lines[0]!.headers.accept).to.equal('application/json');
    expect(lines[1]!.req.headers.accept).to.equal('application/json');
    expect(lines[1]!.req.method).to.equal('POST');
    expect(lines[2]!.upstream.headers.authorization).to.equal('[redacted]');
    // The caller's objects are never changed.
    expect(headers.authorization).to.equal(`Bearer ${SECRET}`);
  });

  it("covers a child logger's bindings and an error's own fields", () => {
    const { logger, text, lines } = capture();
    logger.child({ component: 'x', channel: { apiKey: SECRET } }).info('bound');
    const err = Object.assign(new Error('upstream refused'), { key: SECRET });
    logger.error({ err }, 'failed');
    logger.error({ cause: err }, 'failed too');
    expect(text.join('\n')).not.to.contain(SECRET);
    expect(lines[0]!.component).to.equal('x');
    expect(lines[1]!.err.message).to.equal('upstream refused');
    expect(lines[1]!.err.stack).to.be.a('string');
    expect(err.key).to.equal(SECRET);
  });

  it('returns a line without secrets as it is (no copy on the hot path)', () => {
    const line = {
      requestId: 'r',
      route: '/v1/chat/completions',
      status: 200,
      ms: 1.5,
      tokenId: 3,
      model: 'm',
    };
    expect(redactSecrets(line)).to.equal(line);
    const nested = { requestId: 'r', upstream: { status: 500, message: 'no' } };
    expect(redactSecrets(nested)).to.equal(nested);
  });

  it('never throws: an Error with a getter or a read-only field holding a secret, a getter that throws', () => {
    const { logger, lines, text } = capture();
    class WithGetter extends Error {
      get headers() {
        return { authorization: `Bearer ${SECRET}` };
      }
    }
    const readOnly = new Error('read-only');
    Object.defineProperty(readOnly, 'key', { value: SECRET, enumerable: true, writable: false });
    const throwing = {
      get boom(): string {
        throw new Error('unreadable');
      },
      secret: SECRET,
    };
    expect(() => logger.error({ err: new WithGetter('x') }, 'getter')).not.to.throw();
    expect(() => logger.error({ err: readOnly }, 'read-only')).not.to.throw();
    expect(() => logger.error({ detail: throwing, requestId: 'r1' }, 'throwing getter')).not.to.throw();
    expect(lines.map((l) => l.msg)).to.deep.equal(['getter', 'read-only', 'throwing getter']);
    expect(text.join('\n')).not.to.contain(SECRET);
    expect(lines[2]).to.include({ requestId: 'r1', log_redaction_failed: true });
  });
});
