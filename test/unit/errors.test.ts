import { expect } from 'chai';
import { BadRequestError } from '../../lib/errors/bad-request.error.js';
import { InsufficientQuotaError } from '../../lib/errors/insufficient-quota.error.js';
import { NoChannelError } from '../../lib/errors/no-channel.error.js';
import { errorBody, toAppError } from '../../lib/http/middleware/error-handler.js';

describe('error shapes', () => {
  it('answers {"error":{message,type,param,code}} with the request id in the message', () => {
    const body = errorBody(
      new BadRequestError('model: required', { param: 'model', code: 'invalid_value' }),
      'req-1',
    );
    expect(body).to.deep.equal({
      error: {
        message: 'model: required (request id: req-1)',
        type: 'invalid_request_error',
        param: 'model',
        code: 'invalid_value',
      },
    });
  });

  it('names group and model when no channel serves them (503)', () => {
    const err = new NoChannelError('vip', 'gpt-9');
    expect(err.status).to.equal(503);
    expect(err.message).to.equal('No available channel for model gpt-9 in group vip');
  });

  it('uses OpenAI type insufficient_quota with 429', () => {
    const err = new InsufficientQuotaError('no quota');
    expect([err.status, err.type, err.code]).to.deep.equal([429, 'insufficient_quota', 'insufficient_quota']);
  });

  it('maps body-parser failures to 400/413 and hides unexpected errors', () => {
    expect(toAppError({ type: 'entity.parse.failed', message: 'Unexpected token' }).status).to.equal(400);
    expect(toAppError({ type: 'entity.too.large', limit: 10 }).status).to.equal(413);
    const hidden = toAppError(new Error('SELECT * FROM secrets failed'));
    expect(hidden.status).to.equal(500);
    expect(hidden.message).to.equal('Internal error');
  });

  it('maps a lost database connection to 503', () => {
    const err = toAppError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(err.status).to.equal(503);
    expect(err.code).to.equal('database_unavailable');
  });

  it('words a database outage for what failed: a relay request, an admin read, an admin write', () => {
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toAppError(down, 'relay').message)
      .to.match(/this request needs it/)
      .and.not.match(/admin/);
    expect(toAppError(down, 'admin-read').message).to.match(/admin reads need it/);
    expect(toAppError(down, 'admin-write').message).to.match(/this admin change was not made/);
    const late = Object.assign(new Error('no answer'), { code: 'DB_STATEMENT_TIMEOUT' });
    expect(toAppError(late, 'admin-write')).to.deep.include({ status: 503, code: 'database_unavailable' });
  });
});
