import { expect } from 'chai';
import OpenAI from 'openai';
import { SecretBox } from '../../lib/security/secret-box.js';
import { CLUSTER_ADMIN_TOKEN, CLUSTER_SECRET, startCluster, type TestCluster } from '../helpers/cluster.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

/**
 * A master and two replicas as child processes on real MariaDB and Redis. Each test states the
 * bound it holds the cluster to. Timings: CONFIG_POLL_MS=1000, RESYNC_EVERY=2s.
 */
describe('cluster (master + 2 replicas, MariaDB + Redis)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let fake: FakeUpstream;
  let tokenKey: string;

  const client = (node: SpawnedNode, key = tokenKey) =>
    new OpenAI({ apiKey: key, baseURL: `${node.url}/v1`, maxRetries: 0, timeout: 5000 });
  const ask = (node: SpawnedNode, model: string, key = tokenKey) =>
    client(node, key).chat.completions.create({ model, messages });
  /**
   * A config write made straight in SQL, as a script or an operator would: the entity written by
   * `write` at the next version, `config_state` bumped and the change logged, in one transaction;
   * nothing published. Returns the version.
   */
  async function writeInSql(write: (version: number, now: number) => Promise<{ kind: string; id: number }>) {
    const conn = cluster.sql;
    await conn.beginTransaction();
    const [[state]] = (await conn.query('SELECT version FROM config_state WHERE id = 1 FOR UPDATE')) as any;
    const version = Number(state.version) + 1;
    const now = Date.now();
    const { kind, id } = await write(version, now);
    await conn.query('UPDATE config_state SET version = ? WHERE id = 1', [version]);
    await conn.query('INSERT INTO config_changes (version, kind, entity_id, op, at) VALUES (?,?,?,?,?)', [
      version,
      kind,
      String(id),
      'upsert',
      now,
    ]);
    await conn.commit();
    return version;
  }

  /** Creates a channel on the master, served by the fake upstream under its own name as label. */
  const addChannel = (name: string, models: string[], extra: Record<string, unknown> = {}, mode = 'ok') =>
    cluster.admin(cluster.master, 'POST', '/api/channels', {
      name,
      base_url: fake.baseUrl(name, mode),
      key: `sk-${name}-0123456789`,
      models,
      ...extra,
    });
  /** True when the node refuses the request with `status` (as the openai client reports it). */
  const refuses = (node: SpawnedNode, model: string, status: number, key = tokenKey) =>
    ask(node, model, key).then(
      () => false,
      (err: unknown) => err instanceof OpenAI.APIError && err.status === status,
    );
  const answers = (node: SpawnedNode, model: string, key = tokenKey) =>
    ask(node, model, key).then(
      () => true,
      () => false,
    );

  /** Waits until every node has the database's version and the same channels (ids and versions). */
  async function converged(withinMs: number): Promise<number> {
    const started = Date.now();
    await waitFor(
      async () => {
        const db = await cluster.dbState();
        const statuses = await Promise.all(cluster.nodes().map((n) => cluster.status(n)));
        return statuses.every((s) => s.version === db.version && s.routing_digest === db.digest);
      },
      withinMs,
      'every node to converge to the database',
    );
    return Date.now() - started;
  }

  before(async () => {
    fake = await startFakeUpstream();
    cluster = await startCluster({ replicas: 2 });
    const token = await cluster.admin(cluster.master, 'POST', '/api/tokens', { name: 'cluster-test' });
    expect(token.status).to.equal(201);
    tokenKey = token.body.data.key;
  });

  after(async () => {
    await cluster?.stop();
    await fake?.close();
  });

  describe('roles', () => {
    it('a replica refuses admin writes with 403 replica_read_only naming MASTER_URL, and serves reads', async () => {
      const r = await cluster.admin(cluster.replicas[0]!, 'POST', '/api/channels', {
        name: 'x',
        base_url: fake.baseUrl('x'),
        key: 'k-0123456789',
        models: ['m'],
      });
      expect(r.status).to.equal(403);
      expect(r.body.error.type).to.equal('replica_read_only');
      expect(r.body.error.message).to.contain(cluster.master.url);
      expect((await cluster.admin(cluster.replicas[0]!, 'GET', '/api/channels')).status).to.equal(200);
      const status = await cluster.status(cluster.replicas[0]!);
      expect(status).to.include({
        role: 'slave',
        state: 'LIVE',
        pubsub_connected: true,
        redis_connected: true,
      });
    });

    it('GET /api/cluster on any node lists every node with its lag', async () => {
      await waitFor(
        async () =>
          (await cluster.admin(cluster.replicas[1]!, 'GET', '/api/cluster')).body.nodes.length === 3,
        3000,
        'three heartbeats',
      );
      const report = (await cluster.admin(cluster.replicas[1]!, 'GET', '/api/cluster')).body;
      expect(report.nodes.map((n: any) => n.node_id).sort()).to.deep.equal([
        'master',
        'replica-1',
        'replica-2',
      ]);
      for (const n of report.nodes)
        expect(n).to.have.keys([
          'node_id',
          'role',
          'state',
          'epoch',
          'version',
          'lag_versions',
          'last_sync_at',
          'pubsub_connected',
          'heartbeat_at',
          'started_at',
          'host',
          'port',
          'pid',
          'redis_connected',
          'routing_channels',
          'routing_digest',
          'routing_matches_db',
        ]);
    });

    it('bull-board at /admin/queues needs an admin token and shows config-resync results', async () => {
      const page = await fetch(`${cluster.replicas[0]!.url}/admin/queues`);
      expect(page.status).to.equal(401);
      expect(page.headers.get('www-authenticate')).to.match(/^Basic/);
      const basic = `Basic ${Buffer.from(`admin:${CLUSTER_ADMIN_TOKEN}`).toString('base64')}`;
      expect(
        (await fetch(`${cluster.replicas[0]!.url}/admin/queues`, { headers: { authorization: basic } }))
          .status,
      ).to.equal(200);
      await waitFor(
        async () => {
          const res = await fetch(
            `${cluster.master.url}/admin/queues/api/queues?activeQueue=config&status=completed`,
            {
              headers: { authorization: `Bearer ${CLUSTER_ADMIN_TOKEN}` },
            },
          );
          const text = await res.text();
          return res.status === 200 && text.includes('"dbVersion"') && text.includes('"healed"');
        },
        6000,
        'a completed config-resync job with its result',
      );
    });

    it('a slave without REDIS_URL, or on SQLite, refuses to start and names the variable', async () => {
      const noRedis = await spawnNode(
        { ...cluster.env, REDIS_URL: '', NODE_TYPE: 'slave', NODE_ID: 'bad' },
        8000,
      ).catch((e: Error) => e);
      expect((noRedis as Error).message).to.contain('Set REDIS_URL when NODE_TYPE=slave');
      const sqlite = await spawnNode(
        { ...cluster.env, DATABASE_URL: '', NODE_TYPE: 'slave', NODE_ID: 'bad' },
        8000,
      ).catch((e: Error) => e);
      expect((sqlite as Error).message).to.contain('Set DATABASE_URL to a mysql:// URL when NODE_TYPE=slave');
    });

    it('a second master refuses to start while the first is alive', async () => {
      const second = await spawnNode(
        { ...cluster.env, NODE_TYPE: 'master', NODE_ID: 'master-2' },
        8000,
      ).catch((e: Error) => e);
      expect(second).to.be.instanceOf(Error);
      expect((second as Error).message).to.contain('Another master (NODE_ID=master,');
    });
  });

  describe('propagation (bound: 1 s with pub/sub healthy)', () => {
    it('a channel created on the master is routable on both replicas within 1 s (the One Hub regression)', async () => {
      const created = await addChannel('p1', ['prop-model']);
      expect(created.status).to.equal(201);
      await Promise.all(
        cluster.replicas.map((r) =>
          waitFor(() => answers(r, 'prop-model'), 1000, `${r.url} to route prop-model`),
        ),
      );
    });

    it('an edit (new model, new key) and a delete reach both replicas within 1 s', async () => {
      const id = (await cluster.admin(cluster.master, 'GET', '/api/channels?q=p1')).body.data[0].id;
      await cluster.admin(cluster.master, 'PATCH', `/api/channels/${id}`, {
        models: ['prop-model', 'prop-new'],
        key: 'sk-rotated-0123456789',
      });
      await Promise.all(
        cluster.replicas.map((r) =>
          waitFor(
            async () =>
              (await answers(r, 'prop-new')) &&
              fake.requests.at(-1)!.authorization === 'Bearer sk-rotated-0123456789',
            1000,
            'the edit',
          ),
        ),
      );
      await cluster.admin(cluster.master, 'DELETE', `/api/channels/${id}`);
      await Promise.all(
        cluster.replicas.map((r) => waitFor(() => refuses(r, 'prop-model', 503), 1000, 'the delete')),
      );
    });

    it('a token disabled on the master is refused on both replicas within 1 s', async () => {
      await addChannel('p2', ['tok-model']);
      const t = (await cluster.admin(cluster.master, 'POST', '/api/tokens', { name: 'to-revoke' })).body.data;
      await Promise.all(
        cluster.replicas.map((r) => waitFor(() => answers(r, 'tok-model', t.key), 1000, 'the token to work')),
      );
      await cluster.admin(cluster.master, 'PATCH', `/api/tokens/${t.id}`, { status: 'disabled' });
      await Promise.all(
        cluster.replicas.map((r) =>
          waitFor(() => refuses(r, 'tok-model', 401, t.key), 1000, 'the disabled token to be refused'),
        ),
      );
    });
  });

  describe('lost messages', () => {
    it('with subscribers killed repeatedly during 200 writes, every node converges within poll + 2 s', async () => {
      let writing = true;
      let kills = 0;
      const killer = (async () => {
        while (writing) {
          kills += await cluster.killConnections(
            (name) => name.endsWith(':subscriber') && !name.includes(':master:'),
          );
          await new Promise((r) => setTimeout(r, 150));
        }
      })();
      const ids: number[] = [];
      for (let i = 0; i < 200; i++) {
        if (i % 4 === 3 && ids.length > 0) {
          const res = await cluster.admin(cluster.master, 'PATCH', `/api/channels/${ids[i % ids.length]}`, {
            weight: i,
          });
          expect(res.status).to.equal(200);
        } else {
          const res = await addChannel(`burst-${i}`, [`burst-${i % 7}`]);
          expect(res.status).to.equal(201);
          ids.push(res.body.data.id);
        }
      }
      writing = false;
      await killer;
      expect(kills).to.be.greaterThan(3);
      await converged(1000 + 2000);
    });
  });

  describe('commit without publish', () => {
    it('a write made straight in SQL converges within RESYNC_EVERY + poll', async () => {
      const box = new SecretBox(CLUSTER_SECRET);
      await writeInSql(async (version, now) => {
        const [ins] = (await cluster.sql.query(
          'INSERT INTO channels (name, type, base_url, key_enc, key_masked, models, `groups`, model_mapping, priority, weight, status, version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
          [
            'sql-made',
            'openai',
            fake.baseUrl('sql'),
            box.encrypt('sk-sql-0123456789'),
            'sk-…6789',
            '["sql-model"]',
            '["default"]',
            '{}',
            0,
            1,
            'enabled',
            version,
            now,
            now,
          ],
        )) as any;
        return { kind: 'channel', id: ins.insertId };
      });
      // No message was published and Redis's cfg:version was not raised: only the resync job's beacon tells the nodes.
      await converged(2000 + 1000 + 1000);
      await Promise.all(
        cluster.replicas.map((r) =>
          waitFor(() => answers(r, 'sql-model'), 1000, 'the SQL-made channel to route'),
        ),
      );
    });
  });

  describe('token changed straight in SQL', () => {
    it('is refused on every node within RESYNC_EVERY + poll, and the resync job heals its stale Redis entry', async () => {
      const t = (await cluster.admin(cluster.master, 'POST', '/api/tokens', { name: 'sql-revoked' })).body
        .data;
      await addChannel('sql-tok', ['sql-tok']);
      await Promise.all(
        cluster.nodes().map((n) => waitFor(() => answers(n, 'sql-tok', t.key), 1000, 'the token to work')),
      );
      const { hashKey } = await import('../../lib/security/keys.js');
      const l2Key = `${cluster.prefix}:cfg:token:${hashKey(t.key)}`;
      const cachedBefore = Number(await cluster.redis.hget(l2Key, 'version'));
      expect(cachedBefore).to.be.greaterThan(0);

      const version = await writeInSql(async (next) => {
        await cluster.sql.query("UPDATE tokens SET status = 'disabled', version = ? WHERE id = ?", [
          next,
          t.id,
        ]);
        return { kind: 'token', id: t.id };
      });

      // Redis still holds the enabled token at its old version: a node must not trust it.
      await Promise.all(
        cluster
          .nodes()
          .map((n) =>
            waitFor(
              () => answers(n, 'sql-tok', t.key).then((ok) => !ok),
              2000 + 1000 + 1000,
              'the token to be refused',
            ),
          ),
      );
      await waitFor(
        async () => Number(await cluster.redis.hget(l2Key, 'version')) === version,
        2000 + 2000,
        'the Redis entry to be healed',
      );
    });
  });

  describe('outages', () => {
    /** Sends relay requests to the replicas every 20 ms until stopped; counts what failed. */
    function traffic(model: string) {
      let running = true;
      const result = { ok: 0, failed: 0, errors: [] as string[] };
      const loop = (async () => {
        for (let i = 0; running; i++) {
          const node = cluster.replicas[i % cluster.replicas.length]!;
          try {
            await ask(node, model);
            result.ok++;
          } catch (err) {
            result.failed++;
            if (result.errors.length < 5) result.errors.push(String((err as Error).message));
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      return {
        result,
        async stop() {
          running = false;
          await loop;
          return result;
        },
      };
    }

    before(async () => {
      const r = await addChannel('steady', ['steady']);
      expect(r.status).to.equal(201);
      await Promise.all(
        cluster.replicas.map((n) => waitFor(() => answers(n, 'steady'), 1000, 'steady to route')),
      );
    });

    it('Redis restarted empty: nodes go DEGRADED, keep serving (zero errors), then restore the version, schedulers and L2 and converge', async () => {
      const load = traffic('steady');
      await new Promise((r) => setTimeout(r, 200));
      // The "restart": every connection through the proxy drops and none gets through for a while,
      // and the cluster's keys are gone when Redis answers again.
      cluster.proxies.redis.pause();
      await cluster.redis.del(`${cluster.prefix}:cfg:version`);
      const { deletePrefix } = await import('../helpers/cluster.js');
      await deletePrefix(cluster.redis, cluster.prefix);
      await waitFor(
        async () => (await cluster.status(cluster.replicas[0]!)).state === 'DEGRADED',
        3000,
        'a replica to report DEGRADED',
      );
      await new Promise((r) => setTimeout(r, 1000));
      cluster.proxies.redis.resume();

      const steadyId = String(
        (await cluster.admin(cluster.master, 'GET', '/api/channels?q=steady')).body.data[0].id,
      );
      await waitFor(
        async () => {
          const statuses = await Promise.all(cluster.nodes().map((n) => cluster.status(n)));
          if (!statuses.every((s) => s.state === 'LIVE' && s.redis_connected && s.pubsub_connected))
            return false;
          const [version, scheduler, channel] = await Promise.all([
            cluster.redis.get(`${cluster.prefix}:cfg:version`),
            cluster.redis.exists(`${cluster.prefix}:bull:config:repeat:config-resync`),
            cluster.redis.hget(`${cluster.prefix}:cfg:channel:${steadyId}`, 'version'),
          ]);
          return version !== null && scheduler === 1 && channel !== null;
        },
        2000 + 1000 + 5000,
        'Redis state (cfg:version, the config-resync scheduler, L2) to be restored',
      );
      const result = await load.stop();
      expect(result.failed, result.errors.join('; ')).to.equal(0);
      expect(result.ok).to.be.greaterThan(20);

      // And pub/sub works again: a new channel reaches the replicas within 1 s.
      await addChannel('after-redis', ['after-redis']);
      await Promise.all(
        cluster.replicas.map((n) => waitFor(() => answers(n, 'after-redis'), 1000, 'after-redis to route')),
      );
      await converged(3000);
    });

    it('MySQL down: the relay keeps serving, admin writes get a clear 503, nothing is half-written', async () => {
      const load = traffic('steady');
      await new Promise((r) => setTimeout(r, 200));
      cluster.proxies.mysql.pause();
      const started = Date.now();
      const write = await addChannel('during-outage', ['x']);
      expect(write.status).to.equal(503);
      expect(write.body.error.code).to.equal('database_unavailable');
      expect(write.body.error.message).to.contain('database is unreachable');
      expect(Date.now() - started).to.be.below(8000);
      await new Promise((r) => setTimeout(r, 500));
      cluster.proxies.mysql.resume();
      const result = await load.stop();
      expect(result.failed, result.errors.join('; ')).to.equal(0);

      const [rows] = (await cluster.sql.query(
        "SELECT COUNT(*) AS n FROM channels WHERE name = 'during-outage'",
      )) as any;
      expect(Number(rows[0].n)).to.equal(0);
      const [[state]] = (await cluster.sql.query('SELECT version FROM config_state')) as any;
      const [[log]] = (await cluster.sql.query(
        'SELECT MAX(version) AS v, COUNT(*) AS n FROM config_changes',
      )) as any;
      expect(Number(log.v)).to.equal(Number(state.version));
      const again = await addChannel('after-outage', ['after-outage']);
      expect(again.status).to.equal(201);
      await converged(3000);
    });
  });

  describe('monotonic reads under chaos', () => {
    it('applied versions never go backwards, and every index ends equal to the database', async () => {
      const seen = new Map<string, { epoch: string; version: number }>();
      const backwards: string[] = [];
      let running = true;
      const checker = (async () => {
        while (running) {
          await Promise.all(
            cluster.nodes().map(async (n) => {
              const s = await cluster.status(n).catch(() => undefined);
              if (!s || s.state === 'STARTING' || s.state === 'SYNCING') return;
              const prev = seen.get(s.node_id);
              if (prev && prev.epoch === s.epoch && s.version < prev.version)
                backwards.push(`${s.node_id}: ${prev.version} -> ${s.version}`);
              seen.set(s.node_id, { epoch: s.epoch, version: s.version });
            }),
          );
          await new Promise((r) => setTimeout(r, 30));
        }
      })();
      const writer = (async () => {
        for (let i = 0; running; i++) {
          await addChannel(`chaos-${i}`, [`chaos-${i % 5}`]).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      const deadline = Date.now() + 7000;
      let restarted = false;
      for (let step = 0; Date.now() < deadline; step++) {
        const action = step % 4;
        if (action === 0) await cluster.killConnections((name) => name.endsWith(':subscriber'));
        if (action === 1) await cluster.redis.client('PAUSE', 250, 'WRITE').catch(() => undefined);
        if (action === 2 && !restarted) {
          restarted = true;
          const old = cluster.replicas[1]!;
          await old.stop('SIGTERM');
          cluster.replicas[1] = await cluster.startReplica('replica-2', old.port);
        }
        if (action === 3) await cluster.killConnections((name) => name.includes(':replica-1:'));
        await new Promise((r) => setTimeout(r, 300));
      }
      running = false;
      await Promise.all([checker, writer]);
      expect(restarted).to.equal(true);
      expect(backwards, backwards.join('\n')).to.deep.equal([]);
      expect(seen.size).to.equal(3);
      await converged(1000 + 2000 + 2000);
    });
  });
});
