import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import type { SpawnedNode } from '../helpers/spawn-node.js';
import { waitFor } from '../helpers/wait.js';

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('upstream resilience across the cluster (master + 2 replicas)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let fake: FakeUpstream;
  let tokenKey: string;

  const ask = (node: SpawnedNode, model: string) =>
    new OpenAI({
      apiKey: tokenKey,
      baseURL: `${node.url}/v1`,
      maxRetries: 0,
      timeout: 5000,
    }).chat.completions.create({ model, messages });
  const addChannel = async (
    name: string,
    model: string,
    mode: string,
    extra: Record<string, unknown> = {},
  ) => {
    const r = await cluster.admin(cluster.master, 'POST', '/api/channels', {
      name,
      base_url: fake.baseUrl(name, mode),
      key: `sk-${name}-0123456789`,
      models: [model],
      ...extra,
    });
    expect(r.status).to.equal(201);
    return r.body.data;
  };
  const channelOn = async (node: SpawnedNode, id: number) =>
    (await cluster.admin(node, 'GET', `/api/channels/${id}`)).body.data;
  /** Waits until every node shows the channel with `status`. */
  const everywhere = (id: number, status: string, withinMs: number) =>
    Promise.all(
      cluster
        .nodes()
        .map((n) =>
          waitFor(async () => (await channelOn(n, id)).status === status, withinMs, `${status} on ${n.url}`),
        ),
    );
  const routable = (n: number) =>
    Promise.all(
      cluster
        .nodes()
        .map((node) =>
          waitFor(
            async () => (await cluster.status(node)).routing_channels >= n,
            2000,
            `${n} channels routable`,
          ),
        ),
    );

  before(async () => {
    fake = await startFakeUpstream();
    // The master tests every channel each 500 ms.
    cluster = await startCluster({ replicas: 2, env: { CHANNEL_TEST_EVERY: '500ms' } });
    const token = await cluster.admin(cluster.master, 'POST', '/api/tokens', { name: 'resilience' });
    tokenKey = token.body.data.key;
  });
  after(async () => {
    await cluster?.stop();
    await fake?.close();
  });

  it('a 401 on a replica disables the channel on every node within 1 s; the channel-test job re-enables it once the key works; a manual disable holds', async () => {
    const flaky = await addChannel('flaky', 'auth-model', 'auth', { priority: 10 });
    const parked = await addChannel('parked', 'auth-model', 'auth', { status: 'disabled' });
    await addChannel('steady', 'auth-model', 'ok');
    await routable(3);

    // The provider starts refusing the key; the replica's request is the first to find out.
    fake.refuse('flaky');
    const answer = await ask(cluster.replicas[1]!, 'auth-model');
    expect(answer.choices[0]!.message.content).to.equal('Hello from steady as auth-model');
    const seen = Date.now();
    await everywhere(flaky.id, 'auto_disabled', 1000);
    expect(Date.now() - seen).to.be.below(1000);
    // (The master's test job, every 500 ms, may have seen the refusal in the same instant.)
    const disabled = await channelOn(cluster.replicas[0]!, flaky.id);
    // Routed around on every node from now on: the upstream sees no more relayed requests for it.
    const relayedToFlaky = () =>
      fake.requests.filter((r) => r.label === 'flaky' && r.body.max_tokens === undefined).length;
    const before = relayedToFlaky();
    expect(before, "the replica's request reached it").to.be.at.least(1);
    for (const node of cluster.nodes())
      expect((await ask(node, 'auth-model')).choices[0]!.message.content).to.equal(
        'Hello from steady as auth-model',
      );
    expect(relayedToFlaky()).to.equal(before);
    expect(disabled.status_reason).to.match(
      /^(upstream account unusable|channel test): 401 Incorrect API key provided/,
    );

    // While the key is refused, the job's tests fail and the channel stays out.
    await waitFor(
      async () => (await channelOn(cluster.master, flaky.id)).health.last_test?.ok === false,
      3000,
      'a failed test recorded',
    );
    expect((await channelOn(cluster.master, flaky.id)).status).to.equal('auto_disabled');

    // The provider accepts the key again: the next round re-enables it, on every node.
    fake.accept('flaky');
    await everywhere(flaky.id, 'enabled', 3000);
    const revived = await channelOn(cluster.replicas[1]!, flaky.id);
    // Re-enabled means a clean slate on every node: the cooldown the 401 started (60 s) is gone.
    expect(revived.health.models).to.deep.equal([]);
    expect((await ask(cluster.replicas[1]!, 'auth-model')).choices[0]!.message.content).to.equal(
      'Hello from flaky as auth-model',
    );
    expect(revived.status_reason).to.match(/^channel test passed/);
    expect(revived.health.last_test).to.include({ ok: true, status: 200, model: 'auth-model' });
    expect(revived.health.last_test.latency_ms).to.be.a('number');

    // The manually disabled channel would pass, but is never tested nor re-enabled.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const still = await channelOn(cluster.master, parked.id);
    expect(still.status).to.equal('disabled');
    expect(still.health.last_test).to.equal(null);
    expect(fake.requests.filter((r) => r.label === 'parked')).to.have.length(0);
  });

  it("a breaker opened by one replica's failures is skipped by the other nodes; stats add up over the cluster", async () => {
    const broken = await addChannel('broken', 'cb-model', '500', { priority: 10 });
    const fine = await addChannel('fine', 'cb-model', 'ok');
    await routable(5);
    // BREAKER_MIN_REQUESTS is 5: five failures in a row on replica 0 open it.
    for (let i = 0; i < 5; i++) await ask(cluster.replicas[0]!, 'cb-model');
    await waitFor(
      async () =>
        (await channelOn(cluster.replicas[1]!, broken.id)).health.models.some(
          (m: { breaker: string }) => m.breaker === 'open',
        ),
      1000,
      'the open breaker shared',
    );
    // The channel-test job sends its own requests (max_tokens 1): count only relayed ones.
    const relayedTo = (label: string) =>
      fake.requests.filter((r) => r.label === label && r.body.max_tokens === undefined).length;
    expect(relayedTo('broken')).to.equal(5);
    for (const node of [cluster.master, cluster.replicas[1]!])
      for (let i = 0; i < 10; i++) await ask(node, 'cb-model');
    expect(relayedTo('broken')).to.equal(5);
    const metrics = await (await fetch(`${cluster.replicas[1]!.url}/metrics`)).text();
    expect(metrics).to.contain(`channel_breaker_state{channel="${broken.id}",model="cb-model"} 2`);

    // Each node adds its tallies to Redis every second: any node's admin API shows them all.
    await waitFor(
      async () => (await channelOn(cluster.master, fine.id)).health.stats?.requests === 25,
      3000,
      'cluster-wide stats',
    );
    const stats = (await channelOn(cluster.replicas[0]!, broken.id)).health.stats;
    expect(stats).to.include({ requests: 5, errors: 5, error_rate: 1 });
  });
});
