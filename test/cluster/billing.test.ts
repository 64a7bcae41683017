import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import type { SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

/**
 * This body is 57 bytes: the gateway holds ceil(57 / 4) = 15 prompt tokens (QUOTA_RESERVE_TOKENS
 * is 0 and there is no max_tokens), and the fake upstream reports 10 + 5 = 15 tokens. At 1 unit
 * per token the hold equals the charge, so holds never refuse what the quota allows: exactly
 * K requests fit in K × 15 units.
 */
const BODY = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
const COST = 15;

describe('billing across the cluster (master + 2 replicas, MariaDB + Redis)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let fake: FakeUpstream;

  const call = (node: SpawnedNode, key: string, model = BODY.model) =>
    new OpenAI({ apiKey: key, baseURL: `${node.url}/v1`, maxRetries: 0, timeout: 10_000 }).chat.completions
      .create({ ...BODY, model })
      .withResponse();
  /** Sends `n` requests at once, spread over the nodes; returns each one's outcome. */
  async function burst(n: number, key: string, model = BODY.model, nodes = cluster.nodes()) {
    return Promise.all(
      Array.from({ length: n }, (_, i) => {
        const node = nodes[i % nodes.length]!;
        return call(node, key, model).then(
          ({ response }) => ({ ok: true as const, node, requestId: response.headers.get('x-request-id')! }),
          (err: unknown) => ({
            ok: false as const,
            node,
            status: err instanceof OpenAI.APIError ? err.status : undefined,
            code: err instanceof OpenAI.APIError ? err.code : String(err),
          }),
        );
      }),
    );
  }
  /** The database's view of a token once every settled charge is flushed: its balance and its log. */
  async function flushed(tokenId: number, expectRows: (n: number) => boolean) {
    let state = { quota: 0, used: 0, logged: 0, rows: 0, ids: [] as string[] };
    await waitFor(
      async () => {
        const [[t]] = (await cluster.sql.query('SELECT quota, used_quota FROM tokens WHERE id = ?', [
          tokenId,
        ])) as any;
        const [logs] = (await cluster.sql.query(
          "SELECT request_id, quota FROM usage_logs WHERE token_id = ? AND type = 'consume'",
          [tokenId],
        )) as any;
        const stream = await cluster.redis.xlen(`${cluster.prefix}:usage`);
        state = {
          quota: Number(t.quota),
          used: Number(t.used_quota),
          logged: (logs as any[]).reduce((s, r) => s + Number(r.quota), 0),
          rows: (logs as any[]).length,
          ids: (logs as any[]).map((r) => String(r.request_id)),
        };
        return stream === 0 && expectRows(state.rows);
      },
      10_000,
      'the usage stream to be flushed to the database',
    );
    return state;
  }
  async function tokenWith(fields: Record<string, unknown>) {
    const r = await cluster.admin(cluster.master, 'POST', '/api/tokens', {
      name: `t-${Math.random().toString(36).slice(2)}`,
      ...fields,
    });
    expect(r.status).to.equal(201);
    return r.body.data as { id: number; key: string };
  }

  before(async () => {
    expect(Math.ceil(JSON.stringify(BODY).length / 4)).to.equal(COST);
    fake = await startFakeUpstream();
    cluster = await startCluster({
      replicas: 2,
      env: {
        ALLOW_UNPRICED_MODELS: 'false',
        QUOTA_RESERVE_TOKENS: '0',
        USAGE_FLUSH_EVERY: '300ms',
        QUOTA_HOLD_TTL: '3s',
      },
    });
    const price = await cluster.admin(cluster.master, 'PUT', '/api/prices/*', { input: 2, output: 2 });
    expect(price.status).to.equal(200);
    for (const [name, mode] of [
      ['m', 'ok'],
      ['slow', 'slow'],
    ]) {
      const r = await cluster.admin(cluster.master, 'POST', '/api/channels', {
        name,
        base_url: fake.baseUrl(name, mode),
        key: `sk-${name}-0123456789`,
        models: [name],
      });
      expect(r.status).to.equal(201);
    }
    // Every node prices and routes both models before the tests start.
    const probe = await tokenWith({});
    for (const node of cluster.nodes()) {
      await waitFor(async () => (await burst(1, probe.key, 'slow', [node]))[0]!.ok, 2000, 'routing');
    }
  });

  after(async () => {
    await cluster?.stop();
    await fake?.close();
  });

  it('a token with quota for exactly K requests: of 5·K at once over 3 nodes, exactly K succeed, and the database balance equals the logged charges to the unit', async () => {
    const K = 12;
    const user = await cluster.admin(cluster.master, 'POST', '/api/users', {
      username: 'k-user',
      quota: 1000,
    });
    const token = await tokenWith({ quota: K * COST, user_id: user.body.data.id });
    const results = await burst(5 * K, token.key);
    const ok = results.filter((r) => r.ok);
    expect(ok).to.have.length(K);
    for (const r of results.filter((x) => !x.ok)) {
      expect(r).to.deep.include({ status: 429, code: 'insufficient_quota' });
    }
    const db = await flushed(token.id, (n) => n === K);
    expect(db).to.deep.include({ quota: 0, used: K * COST, logged: K * COST, rows: K });
    const [[u]] = (await cluster.sql.query('SELECT quota, used_quota FROM users WHERE id = ?', [
      user.body.data.id,
    ])) as any;
    expect([Number(u.quota), Number(u.used_quota)]).to.deep.equal([1000 - K * COST, K * COST]);
    // The Redis balance agrees, with nothing held.
    const [left, held] = await cluster.redis.hmget(`${cluster.prefix}:bal:t:${token.id}`, 'left', 'held');
    expect([Number(left), Number(held)]).to.deep.equal([0, 0]);
  });

  it('a replica SIGKILLed in the middle: nothing settled is lost, nothing is charged twice, its holds are refunded', async () => {
    // Quota for 45 of 90 requests, 30 sent to each node: no node can take it all, so the
    // survivors are charged too.
    const K = 45;
    const token = await tokenWith({ quota: K * COST });
    const victim = cluster.replicas[1]!;
    // Slow answers keep requests in flight on the victim when it dies.
    const running = burst(90, token.key, 'slow');
    await new Promise((r) => setTimeout(r, 150));
    await victim.stop('SIGKILL');
    const results = await running;
    const ok = results.filter((r) => r.ok);
    const survivors = ok.filter((r) => r.node !== victim);
    expect(survivors.length).to.be.greaterThan(0);
    expect(ok.length).to.be.at.most(K);

    const db = await flushed(token.id, (n) => n >= survivors.length);
    // Every charge of a surviving node is in the log exactly once; the victim's are there at
    // most once (those settled before it died).
    for (const r of survivors) expect(db.ids.filter((id) => id === r.requestId)).to.have.length(1);
    expect(new Set(db.ids).size).to.equal(db.rows);
    expect(db.rows).to.be.at.most(ok.length);
    // The books balance to the unit: what the token lost is what the log charged.
    expect(db.used).to.equal(db.logged);
    expect(db.quota + db.logged).to.equal(K * COST);
    // The victim's holds are refunded (QUOTA_HOLD_TTL 3s): the live balance comes back to the database's.
    await waitFor(
      async () => {
        const [left, held] = await cluster.redis.hmget(`${cluster.prefix}:bal:t:${token.id}`, 'left', 'held');
        return Number(held) === 0 && Number(left) === db.quota;
      },
      10_000,
      'the dead node holds to be refunded',
    );
    const restarted = await cluster.startReplica('replica-2', victim.port);
    cluster.replicas[1] = restarted;
  });

  it('a token limited to N requests per minute: of 3·N at once over 3 nodes, exactly N pass', async () => {
    const N = 10;
    const token = await tokenWith({ rpm_limit: N });
    const results = await burst(3 * N, token.key);
    expect(results.filter((r) => r.ok)).to.have.length(N);
    for (const r of results.filter((x) => !x.ok)) {
      expect(r).to.deep.include({ status: 429, code: 'rate_limit_exceeded' });
    }
    // Still limited a moment later, on any node.
    for (const node of cluster.nodes())
      expect((await burst(1, token.key, 'm', [node]))[0]!.ok).to.equal(false);
  });

  it('a request for an absurdly long model name is logged and flushed like any other (no poison row)', async () => {
    const token = await tokenWith({});
    // Longer than the 128-character columns, within the 256 the relay accepts (longer is a 400).
    const [r] = await burst(1, token.key, 'x'.repeat(200));
    expect(r).to.deep.include({ ok: false, status: 503 });
    const db = await flushed(token.id, (n) => n === 1);
    expect(db.rows).to.equal(1);
  });

  it('a price changed on the master applies on every node within 1 s', async () => {
    const token = await tokenWith({});
    const put = await cluster.admin(cluster.master, 'PUT', '/api/prices/m', { input: 4, output: 4 });
    expect(put.status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1000));
    await burst(3, token.key);
    const db = await flushed(token.id, (n) => n === 3);
    expect(db.logged).to.equal(3 * 2 * COST);
    const del = await cluster.admin(cluster.master, 'DELETE', '/api/prices/m');
    expect(del.status).to.equal(204);
  });
});
