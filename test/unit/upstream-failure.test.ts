import { expect } from 'chai';
import { readOpenAiError } from '../../lib/relay/adapters/openai/openai-wire.js';
import {
  parseAutoDisableRules,
  scrubUpstreamText,
  upstreamFailure,
} from '../../lib/relay/upstream-failure.js';
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
    // The upstream's words are for the log only.
    expect(client.error.message).not.to.contain('Invalid value for temperature');
    expect(client.detail).to.contain('Invalid value for temperature');
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
  it("cuts the channel's key out of what the upstream said, for the log", () => {
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
    expect(client.detail).to.contain('model not allowed for [channel key]');
    expect(client.error.message).not.to.contain(key);
  });

  it("cuts out each part of a key of several parts (a Bedrock channel's access key, secret and session token)", () => {
    const [id, secret, token] = [
      'AKIAEXAMPLE000000001',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCY',
      'FwoGZXIvYXdzEXAMPLE//token=',
    ];
    const said = `The security token ${token} is invalid for ${id}; signed with ${secret}`;
    expect(scrubUpstreamText(said, `${id}:${secret}:${token}`)).to.equal(
      'The security token [channel key] is invalid for [channel key]; signed with [channel key]',
    );
  });

  it('never shows a client the upstream words: key prefixes, masked or base64 keys, URLs, channel ids', () => {
    const key = 'sk-SECRETKEY-e5f6a7b8c9d0';
    const echoes = [
      `Incorrect API key provided: ${key.slice(0, 15)}`,
      'Incorrect API key provided: sk-SECR*********c9d0',
      `Bad auth header Basic ${Buffer.from(key).toString('base64')}`,
      'POST https://internal.example:8443/secret/path/v1/chat/completions failed',
      'channel 7 upstream http://10.0.0.5/v1 refused',
    ];
    const leaks = [
      'SECR',
      'c9d0',
      Buffer.from(key).toString('base64').slice(0, 12),
      'internal',
      '10.0.0.5',
      'channel 7',
    ];
    for (const status of [400, 404, 422, 429, 500, 503]) {
      for (const words of echoes) {
        const f = upstreamFailure(
          status,
          readOpenAiError(
            JSON.stringify({ error: { message: words, type: 'x', code: words, param: words } }),
          ),
          7,
          undefined,
          parseAutoDisableRules('none'),
          key,
        );
        const shown = JSON.stringify({ m: f.error.message, c: f.error.code, p: f.error.param });
        for (const leak of leaks) expect(shown, `${status} ${words}`).not.to.contain(leak);
        expect(f.error.status).to.equal(status);
        // The log keeps the words, with the key scrubbed.
        expect(f.detail).to.be.a('string');
        expect(f.detail).not.to.contain(key.slice(0, 12));
        expect(f.detail).not.to.contain(Buffer.from(key).toString('base64'));
      }
    }
  });

  it("passes a 4xx's param and code when they are plain identifiers", () => {
    const f = upstreamFailure(
      400,
      readOpenAiError(
        JSON.stringify({
          error: {
            message: 'bad',
            type: 'invalid_request_error',
            code: 'invalid_value',
            param: 'messages[0].role',
          },
        }),
      ),
      1,
      undefined,
      rules,
    );
    expect(f.error.param).to.equal('messages[0].role');
    expect(f.error.code).to.equal('invalid_value');
  });
});
