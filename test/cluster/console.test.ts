import { expect } from 'chai';
import { CLUSTER_ADMIN_TOKEN, startCluster, type TestCluster } from '../helpers/cluster.js';
import { callWithCookie, postLogin, signIn } from '../helpers/console-session.js';
import { waitFor } from '../helpers/wait.js';

/** The console's sign-in across a master and a replica on MariaDB + Redis. */
describe('console sessions in a cluster (master + 1 replica)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await startCluster({
      replicas: 1,
      env: { LOGIN_MAX_ATTEMPTS: '3', SESSION_IDLE_TIMEOUT: '3s' },
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('a session made on the master works on the replica (reads), and a write there names the master', async () => {
    const master = cluster.master;
    const replica = cluster.replicas[0]!;
    const s = await signIn(master.url, { access_token: CLUSTER_ADMIN_TOKEN });
    const me = await callWithCookie(replica.url, s.cookie, 'GET', '/api/auth/me');
    expect(me.status).to.equal(200);
    expect(me.body).to.deep.include({ csrf_token: s.csrf, node: { role: 'slave', master_url: master.url } });
    expect((await callWithCookie(replica.url, s.cookie, 'GET', '/api/channels')).status).to.equal(200);
    // The queue dashboard the console links to opens with the session too.
    const board = await fetch(`${master.url}/admin/queues`, {
      headers: { cookie: `sy_session=${s.cookie}` },
    });
    expect(board.status).to.equal(200);
    expect((await fetch(`${master.url}/admin/queues`)).status).to.equal(401);
    const write = await callWithCookie(
      replica.url,
      s.cookie,
      'POST',
      '/api/tokens',
      { name: 'x' },
      { 'x-csrf-token': s.csrf },
    );
    expect(write.status).to.equal(403);
    expect(write.body.error.type).to.equal('replica_read_only');
    expect(write.body.error.message).to.contain(master.url);
  });

  it('use on the replica alone keeps a session alive (the replica records the use), idleness ends it', async () => {
    const replica = cluster.replicas[0]!;
    const s = await signIn(cluster.master.url, { access_token: CLUSTER_ADMIN_TOKEN });
    // Used only on the replica, every 400 ms for 4.5 s (longer than the 3 s idle timeout).
    const until = Date.now() + 4500;
    while (Date.now() < until) {
      expect((await callWithCookie(replica.url, s.cookie, 'GET', '/api/auth/me')).status).to.equal(200);
      await new Promise((r) => setTimeout(r, 400));
    }
    const [[row]] = (await cluster.sql.query(
      'SELECT created_at, last_seen_at FROM sessions ORDER BY id DESC LIMIT 1',
    )) as any;
    expect(Number(row.last_seen_at) - Number(row.created_at)).to.be.greaterThan(3000);
    expect((await callWithCookie(cluster.master.url, s.cookie, 'GET', '/api/auth/me')).status).to.equal(200);
    // Then left alone for longer than the idle timeout: ended on every node.
    await new Promise((r) => setTimeout(r, 3200));
    expect((await callWithCookie(replica.url, s.cookie, 'GET', '/api/auth/me')).status).to.equal(401);
    expect((await callWithCookie(cluster.master.url, s.cookie, 'GET', '/api/auth/me')).status).to.equal(401);
  });

  it('signing in and out works on a replica too; a sign-out there ends the session on the master', async () => {
    const replica = cluster.replicas[0]!;
    const s = await signIn(replica.url, { access_token: CLUSTER_ADMIN_TOKEN });
    expect((await callWithCookie(cluster.master.url, s.cookie, 'GET', '/api/auth/me')).status).to.equal(200);
    const out = await callWithCookie(replica.url, s.cookie, 'POST', '/api/auth/logout', undefined, {
      'x-csrf-token': s.csrf,
    });
    expect(out.status).to.equal(204);
    expect((await callWithCookie(cluster.master.url, s.cookie, 'GET', '/api/auth/me')).status).to.equal(401);
  });

  it('a password change on the master ends the user’s sessions on the replica at once', async () => {
    const created = await cluster.admin(cluster.master, 'POST', '/api/users', {
      username: 'cluster-user',
      password: 'first password 1',
    });
    expect(created.status).to.equal(201);
    const id = created.body.data.id;
    const s = await signIn(cluster.replicas[0]!.url, {
      username: 'cluster-user',
      password: 'first password 1',
    });
    expect((await s.call('GET', '/api/tokens')).status).to.equal(200);
    const set = await cluster.admin(cluster.master, 'PUT', `/api/users/${id}/password`, {
      password: 'second password 2',
    });
    expect(set.status).to.equal(200);
    const after = await callWithCookie(cluster.replicas[0]!.url, s.cookie, 'GET', '/api/tokens');
    expect(after.status).to.equal(401);
  });

  it('GET /api/cluster shows each node’s routing digest against the database’s, and its Redis connection', async () => {
    const created = await cluster.admin(cluster.master, 'POST', '/api/channels', {
      name: 'digest-check',
      base_url: 'http://127.0.0.1:9',
      key: 'sk-digest-0123456789',
      models: ['m'],
    });
    expect(created.status).to.equal(201);
    const { digest } = await cluster.dbState();
    let report: any;
    await waitFor(
      async () => {
        report = (await cluster.admin(cluster.replicas[0]!, 'GET', '/api/cluster')).body;
        return report.nodes.length === 2 && report.nodes.every((n: any) => n.routing_matches_db === true);
      },
      5000,
      'both nodes reporting the database’s routing digest',
    );
    expect(report.db_routing_digest).to.equal(digest);
    for (const n of report.nodes) {
      expect(n).to.include({ routing_digest: digest, redis_connected: true, pubsub_connected: true });
      expect(n.routing_channels).to.be.a('number');
    }
  });

  it('counts failed attempts cluster-wide (in Redis): two on the master and one on the replica lock the username', async () => {
    const body = { username: 'cluster-user', password: 'wrong password' };
    expect((await postLogin(cluster.master.url, body)).status).to.equal(401);
    expect((await postLogin(cluster.master.url, body)).status).to.equal(401);
    expect((await postLogin(cluster.replicas[0]!.url, body)).status).to.equal(401);
    const locked = await postLogin(cluster.master.url, {
      username: 'cluster-user',
      password: 'second password 2',
    });
    expect(locked.status).to.equal(429);
    expect(Number(locked.headers.get('retry-after'))).to.be.greaterThan(800);
    // Both counts live in Redis under the cluster's prefix.
    const p = cluster.prefix;
    expect(await cluster.redis.exists(`${p}:login:ip:127.0.0.1`, `${p}:login:user:cluster-user`)).to.equal(2);
  });
});
