import { expect } from 'chai';
import { readOpenAiError } from '../../lib/relay/adapters/openai/openai-wire.js';
import { parseAutoDisableRules, upstreamFailure } from '../../lib/relay/upstream-failure.js';
import { envDeclarations } from '../../lib/config/env.declarations.js';

const rules = parseAutoDisableRules(envDeclarations.AUTO_DISABLE_ON.default!);
const body = (message: string, code: string | null = null, type = 'invalid_request_error') =>
  JSON.stringify({ error: { message, type, code } });

describe('upstream failures', () => {
  it('the default AUTO_DISABLE_ON disables on a refused key, no credit, a deactivated account', () => {
    const cases: [number, string][] = [
      [401, body('Incorrect API key provided: sk-abc***xyz', 'invalid_api_key')],
      [403, body('Forbidden')],
      [
        429,
        body(
          'You exceeded your current quota, please check your plan',
          'insufficient_quota',
          'insufficient_quota',
        ),
      ],
      [400, body('Your credit balance is too low to access the API')],
      [400, body('This organization has been disabled.', 'account_deactivated')],
    ];
    for (const [status, text] of cases) {
      const f = upstreamFailure(status, readOpenAiError(text), 7, undefined, rules);
      expect(f, `${status} ${text}`).to.include({ kind: 'unusable', retry: true, reason: 'unusable' });
      // The client never sees the upstream's words: they may quote part of the channel's key.
      expect(f.error.message).not.to.contain('sk-abc');
      expect(f.detail).to.contain(String(status));
    }
  });

  it('429 with Retry-After cools, 5xx counts against the breaker, other 4xx are the client’s', () => {
    expect(
      upstreamFailure(429, readOpenAiError(body('slow down', 'rate_limit_exceeded')), 1, 2_000, rules),
    ).to.include({
      kind: 'rate_limited',
      retryAfterMs: 2_000,
      retry: true,
    });
    expect(upstreamFailure(503, readOpenAiError('<html>bad gateway</html>'), 1, undefined, rules)).to.include(
      {
        kind: 'fault',
        retry: true,
        reason: 'status_5xx',
      },
    );
    const client = upstreamFailure(
      400,
      readOpenAiError(body('Invalid value for temperature')),
      1,
      undefined,
      rules,
    );
    expect(client).to.include({ retry: false, kind: undefined });
    expect(client.error.status).to.equal(400);
    expect(client.error.message).to.contain('Invalid value for temperature');
  });

  it('the list is configurable: statuses, texts, or none', () => {
    const custom = parseAutoDisableRules(' 402 , Payment Required ');
    expect([...custom.statuses]).to.deep.equal([402]);
    expect(
      upstreamFailure(401, readOpenAiError(body('bad key', 'invalid_api_key')), 1, undefined, custom),
    ).to.include({
      kind: 'fault',
      reason: 'status_auth',
    });
    expect(
      upstreamFailure(400, readOpenAiError(body('payment required for this model')), 1, undefined, custom)
        .kind,
    ).to.equal('unusable');
    const none = parseAutoDisableRules('none');
    expect(
      upstreamFailure(401, readOpenAiError(body('bad key', 'invalid_api_key')), 1, undefined, none).kind,
    ).to.equal('fault');
  });
});

describe('upstream failures quoting the key', () => {
  it("cuts the channel's key out of what the upstream said, for the client and the log alike", () => {
    const key = 'sk-live-0123456789abcdef';
    const auth = upstreamFailure(
      401,
      readOpenAiError(body(`bad key ${key}`, 'invalid_api_key')),
      1,
      undefined,
      rules,
      key,
    );
    expect(auth.detail).to.equal('401 bad key [channel key]');
    const client = upstreamFailure(
      400,
      readOpenAiError(body(`model not allowed for ${key}`)),
      1,
      undefined,
      rules,
      key,
    );
    expect(client.error.message).to.contain('model not allowed for [channel key]');
    expect(client.error.message).not.to.contain(key);
  });
});
