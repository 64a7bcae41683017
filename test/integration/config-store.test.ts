import { expect } from 'chai';
import { pino } from 'pino';
import { ChannelService } from '../../lib/admin/channel.service.js';
import type { ChargeEntry } from '../../lib/billing/billing-store.js';
import { ChargeRepository } from '../../lib/db/repositories/charge.repository.js';
import { ConfigSync } from '../../lib/cfg/config-sync.js';
import { SecretBox } from '../../lib/security/secret-box.js';
import { DbConfigSource } from '../../lib/cfg/db-config-source.js';
import { IdentityCache } from '../../lib/cfg/identity-cache.js';
import { VersionedWriter } from '../../lib/cfg/versioned-writer.js';
import { createDb, migrateLatest, type Db } from '../../lib/db/knex.js';
import { ChannelRepository, type ChannelValues } from '../../lib/db/repositories/channel.repository.js';
import { ConfigStateRepository } from '../../lib/db/repositories/config-state.repository.js';
import { GroupRepository } from '../../lib/db/repositories/group.repository.js';
import { PriceRepository } from '../../lib/db/repositories/price.repository.js';
import { TokenRepository } from '../../lib/db/repositories/token.repository.js';
import { UsageLogRepository } from '../../lib/db/repositories/usage-log.repository.js';
import { UserRepository } from '../../lib/db/repositories/user.repository.js';
import { createAdapters } from '../../lib/relay/adapters/index.js';
import { ConflictError } from '../../lib/errors/conflict.error.js';
import { Metrics } from '../../lib/obs/metrics.js';
import { createTestDatabase, type Driver, type TestDatabase } from '../helpers/databases.js';
import { usageRow } from '../helpers/fixtures.js';

const logger = pino({ level: 'silent' });

function values(name: string, fields: Partial<ChannelValues> = {}): ChannelValues {
  return {
    name,
    type: 'openai',
    settings: {},
    baseUrl: 'http://127.0.0.1:9',
    keyEnc: `plain:${name}`,
    keyMasked: 'sk-…',
    models: ['gpt-4o'],
    groups: ['default'],
    modelMapping: {},
    priority: 0,
    weight: 1,
    status: 'enabled',
    statusReason: null,
    statusChangedAt: null,
    connectTimeoutMs: null,
    firstByteTimeoutMs: null,
    idleTimeoutMs: null,
    testModel: null,
    ...fields,
  };
}

for (const driver of ['sqlite', 'mysql'] as Driver[]) {
  describe(`config store on ${driver}`, function () {
    this.timeout(30_000);
    let tdb: TestDatabase;
    let db: Db;
    let state: ConfigStateRepository;
    let channels: ChannelRepository;
    let tokens: TokenRepository;
    let users: UserRepository;
    let writer: VersionedWriter;

    const createChannel = (name: string, fields: Partial<ChannelValues> = {}) =>
      writer.write('channel', async (trx, version) => {
        const id = await channels.insert(trx, values(name, fields), version);
        return { entityId: id, op: 'upsert', result: id };
      });

    beforeEach(async () => {
      tdb = await createTestDatabase(driver);
      db = createDb({ databaseUrl: tdb.databaseUrl, dataDir: tdb.dataDir, sqliteFile: tdb.sqliteFile });
      await migrateLatest(db);
      state = new ConfigStateRepository(db);
      channels = new ChannelRepository(db);
      tokens = new TokenRepository(db);
      users = new UserRepository(db);
      writer = new VersionedWriter(db, state, logger);
    });

    afterEach(async () => {
      await db.destroy();
      await tdb.drop();
    });

    describe('versioned writes', () => {
      it('gives each write the next version and logs it in config_changes', async () => {
        const a = await createChannel('a');
        const b = await createChannel('b');
        expect((await state.read()).version).to.equal(2);
        expect((await channels.findById(a))!.version).to.equal(1);
        expect((await channels.findById(b))!.version).to.equal(2);
        const log = await state.changesAfter(0, 100);
        expect(log.map((c) => [c.version, c.kind, c.entityId, c.op])).to.deep.equal([
          [1, 'channel', String(a), 'upsert'],
          [2, 'channel', String(b), 'upsert'],
        ]);
      });

      it('consumes no version when the write fails (duplicate name → 409)', async () => {
        await createChannel('dup');
        const err = await createChannel('dup').catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ConflictError);
        expect((err as ConflictError).status).to.equal(409);
        expect((await state.read()).version).to.equal(1);
        await createChannel('next');
        expect((await state.changesAfter(0, 10)).map((c) => c.version)).to.deep.equal([1, 2]);
      });

      it('keeps versions gap-free and in commit order under 30 concurrent writers', async () => {
        const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => createChannel(`c${i}`)));
        const log = await state.changesAfter(0, 100);
        expect(log.map((c) => c.version)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(new Set(log.map((c) => c.entityId))).to.deep.equal(new Set(ids.map(String)));
        for (const change of log) {
          expect((await channels.findById(Number(change.entityId)))!.version).to.equal(change.version);
        }
      });

      it('runs listeners after commit, in order, and survives a failing one', async () => {
        const seen: number[] = [];
        writer.addListener({
          onCommitted: () => {
            throw new Error('publish failed');
          },
        });
        writer.addListener({ onCommitted: (c) => void seen.push(c.version) });
        await createChannel('x');
        await createChannel('y');
        expect(seen).to.deep.equal([1, 2]);
      });
    });

    describe('channel repository', () => {
      it('filters by text, status, group and model, and paginates', async () => {
        await createChannel('alpha', { models: ['gpt-4o', 'gpt-4o-mini'], groups: ['default', 'vip'] });
        await createChannel('beta', { models: ['gpt-4o-mini'], status: 'disabled' });
        await createChannel('gamma_50%', { models: ['claude'], groups: ['vip'] });
        const names = async (f: Partial<Parameters<ChannelRepository['list']>[0]>) =>
          (await channels.list({ page: 1, perPage: 10, ...f })).rows.map((r) => r.name);
        expect(await names({ q: 'alp' })).to.deep.equal(['alpha']);
        expect(await names({ q: '50%' })).to.deep.equal(['gamma_50%']);
        expect(await names({ q: '_' })).to.deep.equal(['gamma_50%']);
        expect(await names({ status: 'disabled' })).to.deep.equal(['beta']);
        expect(await names({ group: 'vip' })).to.deep.equal(['alpha', 'gamma_50%']);
        expect(await names({ model: 'gpt-4o' })).to.deep.equal(['alpha']);
        const page2 = await channels.list({ page: 2, perPage: 2 });
        expect(page2.total).to.equal(3);
        expect(page2.rows.map((r) => r.name)).to.deep.equal(['gamma_50%']);
      });
    });

    describe('auto-disable', () => {
      it('disables an enabled channel once, with its reason, and never touches a manually disabled one', async () => {
        const service = new ChannelService(
          channels,
          writer,
          new SecretBox('integration-secret-0000'),
          createAdapters(),
        );
        const a = await createChannel('auto');
        const b = await createChannel('manual', { status: 'disabled' });
        expect(await service.autoDisable(a, 'upstream refused the key')).to.equal(true);
        const row = (await channels.findById(a))!;
        expect(row.status).to.equal('auto_disabled');
        expect(row.statusReason).to.match(/^upstream refused the key \(\d{4}-/);
        const version = (await state.read()).version;
        expect(await service.autoDisable(a, 'again')).to.equal(false);
        expect(await service.autoDisable(b, 'refused')).to.equal(false);
        expect((await channels.findById(b))!.status).to.equal('disabled');
        expect((await state.read()).version).to.equal(version); // no version used by the no-ops
      });
    });

    describe('charge repository (the usage flush)', () => {
      it('is atomic under 50 concurrent batches and charges a replayed batch once', async () => {
        const userId = await writer.write('user', async (trx, version) => {
          const id = await users.insert(
            trx,
            {
              username: 'u',
              role: 'user',
              group: 'default',
              quota: 5000,
              status: 'enabled',
              rpmLimit: null,
              tpmLimit: null,
            },
            version,
          );
          return { entityId: id, op: 'upsert', result: id };
        });
        const tokenId = await writer.write('token', async (trx, version) => {
          const id = await tokens.insert(
            trx,
            {
              name: 't',
              userId,
              keyHash: 'a'.repeat(64),
              keyPrefix: 'sk-a',
              group: 'default',
              status: 'enabled',
              quota: 1000,
              expiresAt: null,
              models: null,
              subnets: null,
              rpmLimit: null,
              tpmLimit: null,
            },
            version,
          );
          return { entityId: id, op: 'upsert', result: id };
        });
        const charges = new ChargeRepository(db, new UsageLogRepository(db), tokens, users);
        const entry = (n: number): ChargeEntry => ({
          tokenLimited: true,
          userLimited: n % 2 === 0, // half were charged while the user was unlimited
          usage: usageRow({ chargeId: `c-${n}`, tokenId, userId, quota: 7 }),
        });
        const batches = Array.from({ length: 50 }, (_, i) => [entry(i)]);
        const written = await Promise.all(batches.map((b) => charges.apply(b)));
        expect(written.reduce((a, b) => a + b, 0)).to.equal(50);
        // The whole log again, as a flush replayed after a crash would: nothing new.
        expect(await charges.apply(batches.flat())).to.equal(0);
        const token = (await tokens.findById(tokenId))!;
        expect(token.usedQuota).to.equal(350);
        expect(token.quota).to.equal(650);
        expect(token.version).to.equal(2); // charges are not config writes
        const user = (await users.findById(userId))!;
        expect(user.usedQuota).to.equal(350);
        expect(user.quota).to.equal(5000 - 25 * 7);
        const logged = await new UsageLogRepository(db).list({ tokenId }, 1, 100);
        expect(logged.total).to.equal(50);
      });
    });

    describe('sync loop', () => {
      let sync: ConfigSync;
      beforeEach(async () => {
        const source = new DbConfigSource(
          db,
          state,
          channels,
          tokens,
          users,
          new PriceRepository(db),
          new GroupRepository(db),
        );
        sync = new ConfigSync(
          source,
          source,
          new IdentityCache(source, { size: 100, ttlMs: 60_000 }),
          (s: string) => s,
          new Metrics({ defaultMetrics: false }),
          logger,
        );
        await sync.start();
      });

      const routed = () => [...sync.routing.versions().keys()].sort((a, b) => a - b);

      it('applies its own writes at once', async () => {
        writer.addListener({ onCommitted: (c) => sync.notify(c) });
        const id = await createChannel('live');
        expect(routed()).to.deep.equal([id]);
        expect(sync.status().appliedVersion).to.equal(1);
        expect(sync.routing.tiers('default', 'gpt-4o')[0]!.channels[0]!.id).to.equal(id);
      });

      it('catches up from the log when it sees a gap', async () => {
        const a = await createChannel('a');
        const b = await createChannel('b');
        const c = await createChannel('c');
        const epoch = sync.status().epoch;
        await sync.notify({ version: 3, kind: 'channel', entityId: String(c), op: 'upsert', at: 0, epoch });
        expect(sync.status().appliedVersion).to.equal(3);
        expect(routed()).to.deep.equal([a, b, c]);
        // A duplicate (or older) notice changes nothing.
        await sync.notify({ version: 2, kind: 'channel', entityId: String(b), op: 'upsert', at: 0, epoch });
        expect(sync.status().appliedVersion).to.equal(3);
      });

      it('finds a write made straight in SQL on its next poll', async () => {
        await db.transaction(async (trx) => {
          await trx('config_state').where({ id: 1 }).update({ version: 1 });
          const [id] = await trx('channels').insert({
            name: 'sql',
            type: 'openai',
            base_url: 'http://127.0.0.1:9',
            key_enc: 'k',
            key_masked: 'k',
            models: '["m"]',
            groups: '["default"]',
            model_mapping: '{}',
            priority: 0,
            weight: 1,
            status: 'enabled',
            version: 1,
            created_at: 0,
            updated_at: 0,
          });
          await trx('config_changes').insert({
            version: 1,
            kind: 'channel',
            entity_id: String(id),
            op: 'upsert',
            at: 0,
          });
        });
        expect(sync.routing.tiers('default', 'm')).to.have.length(0);
        await sync.poll();
        expect(sync.routing.tiers('default', 'm')).to.have.length(1);
        expect(sync.status().appliedVersion).to.equal(1);
      });

      it('resyncs whole when the log was trimmed past its version, or the epoch changed', async () => {
        await createChannel('a');
        await createChannel('b');
        await db('config_changes').where('version', '<=', 1).delete();
        const epoch = sync.status().epoch;
        await sync.notify({ version: 2, kind: 'channel', entityId: '0', op: 'upsert', at: 0, epoch });
        expect(sync.status().appliedVersion).to.equal(2);
        expect(routed()).to.have.length(2);

        await db('config_state').update({ epoch: 'restored-epoch' });
        await sync.poll();
        expect(sync.status().epoch).to.equal('restored-epoch');
        expect(sync.status().appliedVersion).to.equal(2);
      });

      it('never moves appliedVersion backwards over a burst of writes and notices', async () => {
        const seen: number[] = [];
        writer.addListener({
          onCommitted: async (c) => {
            await sync.notify(c);
            seen.push(sync.status().appliedVersion);
          },
        });
        await Promise.all(Array.from({ length: 25 }, (_, i) => createChannel(`m${i}`)));
        const epoch = sync.status().epoch;
        await Promise.all(
          [3, 1, 25, 7].map((v) =>
            sync.notify({ version: v, kind: 'channel', entityId: '0', op: 'upsert', at: 0, epoch }),
          ),
        );
        for (let i = 1; i < seen.length; i++) expect(seen[i]).to.be.at.least(seen[i - 1]!);
        expect(sync.status().appliedVersion).to.equal(25);
        expect(routed()).to.have.length(25);
      });
    });
  });
}
