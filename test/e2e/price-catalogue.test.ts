import { expect } from 'chai';
import OpenAI from 'openai';
import { defaultCatalogue, parseCatalogue, type PriceCatalogue } from '../../lib/billing/price-catalogue.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { createTestDatabase, type Driver, type TestDatabase } from '../helpers/databases.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { apiError } from '../helpers/openai.js';
import { waitFor } from '../helpers/wait.js';

const messages = [{ role: 'user' as const, content: 'hi' }];
const seeding = { SEED_PRICES: 'true', ALLOW_UNPRICED_MODELS: 'false' };

async function pricesOf(gw: TestGateway): Promise<Map<string, any>> {
  const r = await gw.admin('GET', '/api/prices');
  expect(r.status).to.equal(200);
  return new Map((r.body.data as any[]).map((p) => [p.model, p]));
}
async function configVersion(gw: TestGateway): Promise<number> {
  return (await gw.admin('GET', '/api/status')).body.db_version;
}

for (const driver of ['sqlite', 'mysql'] as Driver[]) {
  describe(`default price catalogue on ${driver}`, function () {
    this.timeout(30_000);
    let fake: FakeUpstream;
    let db: TestDatabase;
    const running: TestGateway[] = [];
    const start = async (env: Record<string, string> = seeding, priceCatalogue?: PriceCatalogue) => {
      const gw = await startTestGateway({ db, env, priceCatalogue });
      running.push(gw);
      return gw;
    };
    const stop = async (gw: TestGateway) => {
      running.splice(running.indexOf(gw), 1);
      await gw.stop();
    };

    before(async () => {
      fake = await startFakeUpstream();
    });
    after(async () => {
      await fake.close();
    });
    beforeEach(async () => {
      db = await createTestDatabase(driver);
    });
    afterEach(async () => {
      for (const gw of running.splice(0)) await gw.stop();
      await db.drop();
    });

    it('seeds every catalogue model at first start, each as an ordinary versioned price that serves at once', async () => {
      const gw = await start();
      const prices = await pricesOf(gw);
      expect(prices.size).to.equal(defaultCatalogue.models.length);
      for (const entry of defaultCatalogue.models) {
        const p = prices.get(entry.model);
        expect(p, entry.model).to.include({
          input: entry.input,
          output: entry.output,
          cached_input: entry.cached_input ?? null,
        });
      }
      // One config version per model: every node applies them like an admin's writes.
      const versions = new Set([...prices.values()].map((p) => p.version));
      expect(versions.size).to.equal(defaultCatalogue.models.length);
      expect(await configVersion(gw)).to.be.at.least(defaultCatalogue.models.length);

      await gw.channel({ name: 'a', base_url: fake.baseUrl('a'), models: ['gpt-4o-mini', 'my-own-model'] });
      const token = await gw.token({ quota: 1000 });
      const client = new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
      // The fake's usage: 10 prompt + 5 completion tokens at $0.15 / $0.60 per 1M = 2.25 units → 3.
      let rows: any[] = [];
      await waitFor(async () => {
        rows = (await gw.admin('GET', `/api/logs?token_id=${token.id}&type=consume`)).body.data;
        return rows.length === 1;
      }, 3000);
      expect(rows[0]).to.include({ model: 'gpt-4o-mini', quota: 3 });
      // A model outside the catalogue keeps its clear refusal.
      const err = await apiError(client.chat.completions.create({ model: 'my-own-model', messages }));
      expect([err.status, err.code]).to.deep.equal([403, 'model_not_priced']);
    });

    it("never overwrites an admin's change: not on a restart, not when a later release adds models", async () => {
      let gw = await start();
      expect((await gw.admin('PUT', '/api/prices/gpt-4o', { input: 7, output: 8 })).status).to.equal(200);
      expect((await gw.admin('DELETE', '/api/prices/gpt-4o-mini')).status).to.equal(204);
      // An admin prices a model before any catalogue lists it.
      expect((await gw.admin('PUT', '/api/prices/future-model', { input: 1, output: 2 })).status).to.equal(
        200,
      );
      await stop(gw);

      // The same release starts again: nothing is written, not even a config version.
      gw = await start();
      const before = await configVersion(gw);
      let prices = await pricesOf(gw);
      expect(prices.get('gpt-4o')).to.include({ input: 7, output: 8 });
      expect(prices.has('gpt-4o-mini')).to.equal(false);
      await stop(gw);

      // A later release lists two new models, one of which the admin priced already.
      const later = parseCatalogue({
        ...defaultCatalogue,
        catalogue_version: defaultCatalogue.catalogue_version + 1,
        models: [
          ...defaultCatalogue.models.map((m) => (m.model === 'gpt-4o' ? { ...m, input: 99 } : m)),
          { model: 'future-model', provider: 'openai', kind: 'chat', input: 50, output: 50 },
          {
            model: 'brand-new-model',
            provider: 'openai',
            kind: 'chat',
            input: 3,
            output: 6,
            cached_input: 1,
          },
        ],
      });
      gw = await start(seeding, later);
      prices = await pricesOf(gw);
      expect(prices.get('gpt-4o')).to.include({ input: 7, output: 8 });
      expect(prices.has('gpt-4o-mini')).to.equal(false);
      expect(prices.get('future-model')).to.include({ input: 1, output: 2 });
      expect(prices.get('brand-new-model')).to.include({ input: 3, output: 6, cached_input: 1 });
      expect(await configVersion(gw)).to.equal(before + 1);
    });

    it('SEED_PRICES=false seeds nothing, and a later start with it on seeds the catalogue', async () => {
      let gw = await start({ SEED_PRICES: 'false' });
      expect((await pricesOf(gw)).size).to.equal(0);
      await stop(gw);
      gw = await start();
      expect((await pricesOf(gw)).size).to.equal(defaultCatalogue.models.length);
    });
  });
}

describe('the shipped price catalogue', () => {
  it('covers at least 40 models of OpenAI, Anthropic, Google, DeepSeek and Mistral, each with a dated source', () => {
    expect(defaultCatalogue.models.length).to.be.at.least(40);
    const providers = new Set(defaultCatalogue.models.map((m) => m.provider));
    expect([...providers].sort()).to.deep.equal(['anthropic', 'deepseek', 'google', 'mistral', 'openai']);
    for (const p of Object.values(defaultCatalogue.providers)) {
      expect(p.source).to.match(/^https:\/\//);
      expect(p.as_of).to.match(/^\d{4}-\d{2}/);
    }
    const names = defaultCatalogue.models.map((m) => m.model);
    for (const m of [
      'gpt-4o',
      'gpt-4o-mini',
      'o3',
      'text-embedding-3-small',
      'claude-sonnet-4-5',
      'gemini-2.5-flash',
      'deepseek-chat',
      'mistral-large-latest',
    ])
      expect(names).to.include(m);
    // Claude's cache writes are kept for the price schema to load once it has a slot for them.
    const sonnet = defaultCatalogue.models.find((m) => m.model === 'claude-sonnet-4-5')!;
    expect(sonnet.cache_write_input).to.equal(3.75);
  });

  it('refuses a catalogue with a model twice or a model without a source', () => {
    const twice = { ...defaultCatalogue, models: [...defaultCatalogue.models, defaultCatalogue.models[0]] };
    expect(() => parseCatalogue(twice)).to.throw(/listed twice/);
    const orphan = {
      ...defaultCatalogue,
      models: [{ model: 'x', provider: 'nobody', kind: 'chat', input: 1, output: 1 }],
    };
    expect(() => parseCatalogue(orphan)).to.throw(/has no source/);
  });
});
