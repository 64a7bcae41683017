import zlib from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Property-based fuzzing of every admin and relay route against a running gateway: generated
 * methods, paths and ids, queries, headers, body types, encodings and bodies (well-formed
 * fields with hostile values, malformed JSON, deep nesting, invalid UTF-8, compressed bodies),
 * as root, as a user, with a relay key, with a wrong key and with none. Every answer must come
 * within a bound and never be a 5xx of the gateway's own making; afterwards the process must
 * be healthy and its data intact (database integrity, config versions without gaps).
 *
 * Budget: FUZZ_RUNS requests (default 500) or FUZZ_MS (default 40 s), whichever ends first;
 * FUZZ_SEED replays a run (the seed of a failing run is printed by fast-check).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 40_000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** No answer may take longer (the upstream calls here are all local and fast). */
const ANSWER_BOUND_MS = 10_000;

const ROUTES: [method: string, path: string][] = [
  ['GET', '/api/channels'],
  ['POST', '/api/channels'],
  ['POST', '/api/channels/bulk'],
  ['GET', '/api/channels/:id'],
  ['PATCH', '/api/channels/:id'],
  ['POST', '/api/channels/:id/test'],
  ['GET', '/api/channels/:id/upstream-models'],
  ['DELETE', '/api/channels/:id'],
  ['GET', '/api/tokens'],
  ['POST', '/api/tokens'],
  ['GET', '/api/tokens/:id'],
  ['PATCH', '/api/tokens/:id'],
  ['POST', '/api/tokens/:id/quota'],
  ['DELETE', '/api/tokens/:id'],
  ['GET', '/api/users'],
  ['POST', '/api/users'],
  ['GET', '/api/users/me'],
  ['GET', '/api/users/:id'],
  ['PATCH', '/api/users/:id'],
  ['PUT', '/api/users/:id/password'],
  ['POST', '/api/users/:id/quota'],
  ['DELETE', '/api/users/:id'],
  ['GET', '/api/users/:id/access-tokens'],
  ['POST', '/api/users/:id/access-tokens'],
  ['DELETE', '/api/users/:id/access-tokens/:id'],
  ['GET', '/api/prices'],
  ['PUT', '/api/prices/:model'],
  ['DELETE', '/api/prices/:model'],
  ['GET', '/api/groups'],
  ['PUT', '/api/groups/:name'],
  ['DELETE', '/api/groups/:name'],
  ['GET', '/api/logs'],
  ['GET', '/api/logs/:id'],
  ['GET', '/api/dashboard'],
  ['GET', '/api/stats'],
  ['GET', '/api/cluster'],
  ['GET', '/api/cluster/changes'],
  ['GET', '/api/cluster/applies'],
  ['POST', '/api/auth/login'],
  ['POST', '/api/auth/logout'],
  ['GET', '/api/auth/me'],
  ['GET', '/api/status'],
  ['POST', '/v1/chat/completions'],
  ['POST', '/v1/completions'],
  ['POST', '/v1/embeddings'],
  ['POST', '/v1/messages'],
  ['POST', '/v1/responses'],
  ['GET', '/v1/responses/:id'],
  ['GET', '/v1/models'],
  ['GET', '/v1/models/:model'],
  ['GET', '/healthz'],
  ['GET', '/metrics'],
];

const FIELDS = [
  'name',
  'key',
  'base_url',
  'type',
  'models',
  'groups',
  'model_mapping',
  'priority',
  'weight',
  'status',
  'test_model',
  'connect_timeout_ms',
  'first_byte_timeout_ms',
  'idle_timeout_ms',
  'quota',
  'rpm_limit',
  'tpm_limit',
  'expires_at',
  'subnets',
  'user_id',
  'group',
  'role',
  'username',
  'password',
  'delta',
  'note',
  'input',
  'output',
  'cached_input',
  'ratio',
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'prompt',
  'temperature',
  'instructions',
  'content',
  'role',
  'channels',
  'system',
  'tools',
  'current_password',
  'new_password',
  '__proto__',
  'constructor',
];

/** Strings that have broken parsers, validators or stores somewhere. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    'gpt-4o',
    'default',
    'admin',
    'root',
    '*',
    '%',
    '%E0%A4%A',
    '../../etc/passwd',
    '\u0000',
    'a\r\nb',
    '\ud800',
    '💥',
    '<script>',
    "' OR 1=1 --",
    '1e309',
    '-0',
    'NaN',
    'null',
    'true',
    '2027-01-31T00:00:00Z',
    '+275760-09-13T00:00:00Z',
    '10.0.0.0/8',
    '::1/128',
    '999.1.1.1/99',
    'sk-' + 'x'.repeat(48),
  ),
  fc.integer({ min: 1, max: 6 }).map((n) => 'm'.repeat(10 ** n)),
);
const nastyNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 53), 1e300, -1e300, 0.5, 1e-300),
);

function bodyValue(urls: string[]): fc.Arbitrary<unknown> {
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      nastyString,
      nastyNumber,
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(...urls),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom(...FIELDS), tie('value'), { maxKeys: 5 }),
    ),
  }));
  return value;
}

/** Any base_url anywhere in a generated body points at a local address: the fuzz never reaches out. */
function localUrls(v: unknown, urls: string[]): unknown {
  if (Array.isArray(v)) return v.map((x) => localUrls(x, urls));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // (the URL is picked by the generated value's JSON length: String() throws on a null-prototype object)
      out[k] = k === 'base_url' ? urls[(JSON.stringify(x) ?? '').length % urls.length] : localUrls(x, urls);
    }
    return out;
  }
  return v;
}

describe('fuzz: every route, generated input, never a 5xx of its own, never a hang, data intact', function () {
  this.timeout(BUDGET_MS + 60_000);
  let fake: FakeUpstream;
  let gw: TestGateway;
  let relayKey: string;
  let userAccess: string;
  let ids: number[];

  before(async () => {
    fake = await startFakeUpstream();
    gw = await startTestGateway({ env: { ADMIN_RATE_LIMIT: '0', CHANNEL_TEST_TIMEOUT: '2s' } });
    await gw.admin('PUT', '/api/prices/gpt-4o', { input: 2, output: 2 });
    const ch = await gw.channel({ name: 'seed', base_url: fake.baseUrl('seed'), models: ['gpt-4o'] });
    relayKey = (await gw.token({ name: 'seed-token' })).key;
    const user = (await gw.admin('POST', '/api/users', { username: 'fuzzuser' })).body.data;
    userAccess = (await gw.admin('POST', `/api/users/${user.id}/access-tokens`, {})).body.data.token;
    ids = [ch.id, user.id, 1, 2, 3];
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  it('answers every generated request within a bound, never with a 5xx of its own', async () => {
    const urls = [
      fake.baseUrl('f'),
      fake.baseUrl('f', '500'),
      fake.baseUrl('f', '400'),
      fake.baseUrl('f', 'badjson'),
      'http://127.0.0.1:1',
      gw.url,
      'http://user:pw@127.0.0.1:9',
      'ftp://127.0.0.1',
      'not a url',
    ];
    const idText = fc.oneof(
      fc.constantFrom(...ids.map(String)),
      fc.constantFrom(
        '0',
        '-1',
        '1.5',
        '99999999999999999999',
        'abc',
        '%',
        '%E0%A4%A',
        '%zz',
        '..',
        'me',
        'gpt-4o',
        '*',
      ),
      fc.string({ maxLength: 30 }).map(encodeURIComponent),
    );
    const query = fc.dictionary(
      fc.constantFrom(
        'page',
        'per_page',
        'q',
        'status',
        'after',
        'limit',
        'token_id',
        'user_id',
        'model',
        'from',
        'to',
        'group',
        'x',
      ),
      fc.oneof(nastyString, nastyNumber.map(String)),
      { maxKeys: 4 },
    );
    const auth = fc.constantFrom<'root' | 'user' | 'relay' | 'wrong' | 'none'>(
      'root',
      'root',
      'user',
      'relay',
      'wrong',
      'none',
    );
    const contentType = fc.constantFrom(
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
      undefined,
    );
    const encoding = fc.constantFrom(
      undefined,
      undefined,
      undefined,
      'gzip',
      'br',
      'deflate',
      'identity',
      'bogus',
    );
    const body = fc.oneof(
      { arbitrary: bodyValue(urls).map((v) => ({ kind: 'json' as const, v })), weight: 6 },
      { arbitrary: fc.string({ maxLength: 200 }).map((v) => ({ kind: 'raw' as const, v })), weight: 1 },
      { arbitrary: fc.uint8Array({ maxLength: 200 }).map((v) => ({ kind: 'bytes' as const, v })), weight: 1 },
      {
        arbitrary: fc.integer({ min: 1, max: 100_000 }).map((v) => ({ kind: 'deep' as const, v })),
        weight: 1,
      },
      { arbitrary: fc.constant({ kind: 'none' as const, v: null }), weight: 1 },
    );
    const request = fc.record({
      route: fc.constantFrom(...ROUTES),
      otherMethod: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), {
        freq: 6,
      }),
      id: idText,
      query,
      auth,
      contentType,
      encoding,
      body,
      requestId: fc.option(fc.stringMatching(/^[\x21-\x7e]{0,300}$/), { freq: 4 }),
      origin: fc.option(fc.constantFrom('https://app.example.com', 'null', 'http://evil'), { freq: 6 }),
    });

    const problems: string[] = [];
    const started = Date.now();
    await fc
      .assert(
        fc.asyncProperty(request, async (r) => {
          const method = r.otherMethod ?? r.route[0];
          const path = r.route[1].replace(/:(id|model|name)/g, () => r.id);
          const qs = new URLSearchParams(
            Object.entries(r.query).map(([k, v]): [string, string] => [k, String(v)]),
          ).toString();
          const url = `${gw.url}${path}${qs ? `?${qs}` : ''}`;
          const headers: Record<string, string> = {};
          const token = {
            root: ADMIN_TOKEN,
            user: userAccess,
            relay: relayKey,
            wrong: 'sk-wrong-0123456789abcdef',
            none: '',
          }[r.auth];
          if (token) headers.authorization = `Bearer ${token}`;
          if (r.requestId !== null) headers['x-request-id'] = r.requestId;
          if (r.origin !== null) headers.origin = r.origin;
          let payload: Buffer | undefined;
          if (method !== 'GET' && method !== 'HEAD' && r.body.kind !== 'none') {
            if (r.body.kind === 'json')
              payload = Buffer.from(JSON.stringify(localUrls(r.body.v, urls)) ?? 'null');
            else if (r.body.kind === 'raw') payload = Buffer.from(r.body.v);
            else if (r.body.kind === 'bytes') payload = Buffer.from(r.body.v);
            else
              payload = Buffer.from(
                '{"model":"gpt-4o","messages":' + '['.repeat(r.body.v) + ']'.repeat(r.body.v) + '}',
              );
            if (r.contentType) headers['content-type'] = r.contentType;
            if (r.encoding) {
              headers['content-encoding'] = r.encoding;
              if (r.encoding === 'gzip') payload = zlib.gzipSync(payload);
              if (r.encoding === 'br') payload = zlib.brotliCompressSync(payload);
            }
          }
          const t0 = performance.now();
          let status: number;
          let text: string;
          try {
            const res = await fetch(url, {
              method,
              headers,
              body: payload,
              signal: AbortSignal.timeout(ANSWER_BOUND_MS),
            });
            status = res.status;
            text = await res.text();
          } catch (err) {
            problems.push(
              `${method} ${url}: no answer (${(err as Error).message}) after ${Math.round(performance.now() - t0)} ms`,
            );
            return false;
          }
          // 502/503/504 are the gateway's answers about upstreams (an unreachable or failing channel,
          // no channel for a model), only where an upstream is involved; never a 500.
          const upstreamRoute =
            path.startsWith('/v1/') || /\/api\/channels\/[^/]+\/(test|upstream-models)$/.test(path);
          const ok = status < 500 || (upstreamRoute && [502, 503, 504].includes(status));
          if (!ok) {
            problems.push(`${method} ${url} → ${status}: ${text.slice(0, 300)}`);
            return false;
          }
          if (status >= 400 && text && method !== 'HEAD') {
            let parsed: { error?: { message?: unknown; type?: unknown } };
            try {
              parsed = JSON.parse(text) as typeof parsed;
            } catch {
              problems.push(
                `${method} ${url} → ${status} with a body that is not JSON: ${text.slice(0, 200)}`,
              );
              return false;
            }
            if (typeof parsed.error?.message !== 'string' && typeof parsed.error !== 'object') {
              problems.push(`${method} ${url} → ${status} without an error body: ${text.slice(0, 200)}`);
              return false;
            }
          }
          return true;
        }),
        {
          numRuns: RUNS,
          interruptAfterTimeLimit: BUDGET_MS,
          markInterruptAsFailure: false,
          seed: SEED,
          endOnFailure: true,
        },
      )
      .catch((err: unknown) => {
        // fast-check 4 keeps an error the property threw as the cause, not in the message
        const cause = (err as Error).cause;
        const thrown =
          cause instanceof Error && !/^Property failed by returning false/.test(cause.message)
            ? `\nthe property threw: ${cause.stack ?? cause.message}`
            : '';
        throw new Error(`${(err as Error).message}${thrown}\n${problems.join('\n')}`);
      });
    expect(Date.now() - started).to.be.below(BUDGET_MS + ANSWER_BOUND_MS);
  });

  it('afterwards: healthy, serving, the database intact and config versions without gaps', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).to.equal(200);
    expect((await fetch(`${gw.url}/readyz`)).status).to.equal(200);
    const db = gw.gateway.db;
    const integrity = (await db.raw('PRAGMA integrity_check')) as { integrity_check: string }[];
    expect(integrity[0]!.integrity_check).to.equal('ok');
    const state = (await db('config_state').first()) as { version: number };
    const versions = (
      (await db('config_changes').select('version').orderBy('version')) as { version: number }[]
    ).map((r) => Number(r.version));
    if (versions.length > 0) {
      expect(versions[versions.length - 1]).to.equal(Number(state.version));
      for (let i = 1; i < versions.length; i++)
        expect(versions[i], `version after ${versions[i - 1]}`).to.equal(versions[i - 1]! + 1);
    }
    for (const table of ['channels', 'tokens', 'users']) {
      const rows = (await db(table).select('id', 'version')) as { id: number; version: number }[];
      for (const row of rows)
        expect(Number(row.version), `${table} ${row.id}`).to.be.at.most(Number(state.version));
    }
    for (const t of (await db('tokens').select('id', 'quota', 'used_quota')) as {
      quota: number | null;
      used_quota: number;
    }[]) {
      expect(Number.isSafeInteger(Number(t.used_quota))).to.equal(true);
      if (t.quota !== null) expect(Math.abs(Number(t.quota))).to.be.at.most(Number.MAX_SAFE_INTEGER);
    }
    // The gateway still relays: a fresh channel and key work end to end.
    const key = (await gw.token({ name: `after-${Date.now()}` })).key;
    await gw.channel({
      name: `after-${Date.now()}`,
      base_url: fake.baseUrl('after'),
      models: ['after-model'],
    });
    await gw.admin('PUT', '/api/prices/after-model', { input: 2, output: 2 });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'after-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const answer = (await res.json()) as any;
    expect(res.status, JSON.stringify(answer)).to.equal(200);
    expect(answer.choices[0].message.content).to.contain('Hello from after');
  });
});
