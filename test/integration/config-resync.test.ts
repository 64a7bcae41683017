import { expect } from 'chai';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigResyncProcessor } from '../../jobs/config-resync.processor.js';
import { L2Store } from '../../lib/cfg/l2-store.js';
import type { NodeHeartbeats } from '../../lib/cfg/node-heartbeat.js';
import { VersionedWriter } from '../../lib/cfg/versioned-writer.js';
import { createDb, migrateLatest, type Db } from '../../lib/db/knex.js';
import { ChannelRepository, type ChannelRecord } from '../../lib/db/repositories/channel.repository.js';
import { ConfigStateRepository } from '../../lib/db/repositories/config-state.repository.js';
import { TokenRepository } from '../../lib/db/repositories/token.repository.js';
import { UserRepository } from '../../lib/db/repositories/user.repository.js';
import { deletePrefix, REDIS_URL } from '../helpers/cluster.js';
import { createTestDatabase, uniqueName, type TestDatabase } from '../helpers/databases.js';
import { channel } from '../helpers/fixtures.js';

const logger = pino({ level: 'silent' });

describe('config-resync job (MariaDB + Redis)', function () {
  this.timeout(30_000);
  let tdb: TestDatabase;
  let db: Db;
  let redis: Redis;
  let prefix: string;
  let l2: L2Store;
  let channels: ChannelRepository;
  let writer: VersionedWriter;
  let state: ConfigStateRepository;

  /** A channel written as the master writes one: a versioned write, then its L2 entry. */
  async function create(name: string): Promise<ChannelRecord> {
    const id = await writer
      .write('channel', async (trx, version) => {
        const { id: _id, version: _v, createdAt: _c, updatedAt: _u, ...values } = channel({ name });
        return { entityId: await channels.insert(trx, values, version), op: 'upsert', result: 0 };
      })
      .then(async () => (await channels.findAll()).find((c) => c.name === name)!.id);
    const row = (await channels.findById(id))!;
    await l2.put('channel', row);
    return row;
  }

  const processor = (repo: ChannelRepository = channels) =>
    new ConfigResyncProcessor({
      state,
      channels: repo,
      tokens: new TokenRepository(db),
      users: new UserRepository(db),
      l2,
      heartbeats: { list: async () => [] } as unknown as NodeHeartbeats,
      keepChanges: 100_000,
      logger,
    });

  beforeEach(async () => {
    tdb = await createTestDatabase('mysql');
    db = createDb({ databaseUrl: tdb.databaseUrl, dataDir: tdb.dataDir });
    await migrateLatest(db);
    state = new ConfigStateRepository(db);
    channels = new ChannelRepository(db);
    writer = new VersionedWriter(db, state, logger);
    prefix = uniqueName('syr');
    redis = new Redis(REDIS_URL);
    l2 = new L2Store(redis, prefix, 3_600_000);
  });
  afterEach(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await db.destroy();
    await tdb.drop();
  });

  it('tombstones a channel deleted from the database but still live in L2', async () => {
    const gone = await create('gone');
    const kept = await create('kept');
    await db('channels').where({ id: gone.id }).delete();
    const result = await processor().run();
    expect(result.healed.channel).to.equal(1);
    expect((await l2.get('channel', String(gone.id)))!.record).to.equal(null);
    expect((await l2.get('channel', String(kept.id)))!.record).to.include({ name: 'kept' });
  });

  it('never tombstones a channel created while it runs (the master would then drop it from its index)', async () => {
    await create('before');
    let created: ChannelRecord | undefined;
    // The job reads the database's channels; the master creates one (and caches it in L2) right after.
    const racing = Object.create(channels) as ChannelRepository;
    racing.findAll = async (...args: Parameters<ChannelRepository['findAll']>) => {
      const rows = await channels.findAll(...args);
      created ??= await create('during');
      return rows;
    };
    await processor(racing).run();
    const hit = await l2.get('channel', String(created!.id));
    expect(hit!.record, 'still live in L2').to.include({ name: 'during' });
    expect(hit!.version).to.equal(created!.version);
    // Its next version is cached as usual.
    await writer.write('channel', async (trx, version) => {
      await channels.update(trx, created!.id, { weight: 7 }, version);
      return { entityId: created!.id, op: 'upsert', result: 0 };
    });
    expect(await l2.put('channel', (await channels.findById(created!.id))!)).to.equal(true);
  });
});
