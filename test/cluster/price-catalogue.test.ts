import { expect } from 'chai';
import { defaultCatalogue } from '../../lib/billing/price-catalogue.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

describe('default price catalogue in a cluster (master + 1 replica, MariaDB + Redis)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  after(async () => {
    await cluster?.stop();
  });

  it('the master seeds it once through the versioned path; the replica applies it and seeds nothing itself', async () => {
    cluster = await startCluster({ replicas: 1, env: { SEED_PRICES: 'true' } });
    const [replica] = cluster.replicas;
    const [seeded] = await cluster.sql.query('SELECT COUNT(*) AS n FROM price_seeds');
    expect(Number((seeded as any[])[0].n)).to.equal(defaultCatalogue.models.length);
    // One version per model (plus the root user's): the replica, started with SEED_PRICES=true
    // as well, wrote none of its own.
    const { version } = await cluster.dbState();
    expect(version).to.equal(defaultCatalogue.models.length + 1);
    await waitFor(
      async () => (await cluster.status(replica!)).version === version,
      5000,
      'replica caught up',
    );
    const prices = (await cluster.admin(replica!, 'GET', '/api/prices')).body.data as any[];
    expect(prices.map((p) => p.model).sort()).to.deep.equal(
      defaultCatalogue.models.map((m) => m.model).sort(),
    );
  });
});
