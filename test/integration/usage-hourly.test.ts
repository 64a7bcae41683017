import { expect } from 'chai';
import type { Actor } from '../../lib/admin/actor.js';
import { UsageService } from '../../lib/admin/usage.service.js';
import type { ChargeEntry } from '../../lib/billing/billing-store.js';
import { createDb, migrateLatest, type Db } from '../../lib/db/knex.js';
import { ChargeRepository } from '../../lib/db/repositories/charge.repository.js';
import { TokenRepository } from '../../lib/db/repositories/token.repository.js';
import { UsageLogRepository, type UsageRecord } from '../../lib/db/repositories/usage-log.repository.js';
import { UserRepository } from '../../lib/db/repositories/user.repository.js';
import { createTestDatabase, type Driver, type TestDatabase } from '../helpers/databases.js';
import { usageRow } from '../helpers/fixtures.js';
import { logUsage } from '../helpers/usage.js';
import { seededRandom } from '../../lib/routing/channel-selector.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Not on an hour: the ranges below start and end at every kind of offset from it. */
const BASE = Date.UTC(2026, 10, 1, 21, 17, 23);
const MODELS = ['gpt-4o', 'claude-3', 'o3', 'a'];

/** Usage rows over three days: mostly relayed requests, some without token, channel or model, some errors, some top-ups. */
function randomRows(rand: () => number, n: number, prefix: string): UsageRecord[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const rows: UsageRecord[] = [];
  for (let i = 0; i < n; i++) {
    const consume = rand() < 0.92;
    rows.push(
      usageRow({
        chargeId: `${prefix}-${i}`,
        type: consume ? 'consume' : pick(['topup', 'adjust', 'reconcile'] as const),
        createdAt: BASE - 2 * HOUR + Math.floor(rand() * 76 * HOUR),
        userId: 1 + Math.floor(rand() * 3),
        tokenId: rand() < 0.1 ? null : 1 + Math.floor(rand() * 6),
        channelId: !consume || rand() < 0.1 ? null : 1 + Math.floor(rand() * 5),
        model: !consume || rand() < 0.03 ? null : pick(MODELS),
        promptTokens: Math.floor(rand() * 2000),
        completionTokens: Math.floor(rand() * 500),
        quota: Math.floor(rand() * 10_000) - (consume ? 0 : 5000),
        status: rand() < 0.85 ? 200 : pick([400, 429, 499, 502]),
      }),
    );
  }
  return rows;
}

type Query = { from: number; to: number; bucket: 'hour' | 'day'; top: number; user_id?: number };

/** The dashboard's answer computed from the rows themselves, as the gateway computed it before the roll-up. */
function fromRows(rows: UsageRecord[], q: Query, admin: boolean, self: number) {
  const bucketMs = q.bucket === 'hour' ? HOUR : DAY;
  const userId = admin ? q.user_id : self;
  const inRange = rows.filter(
    (r) =>
      r.type === 'consume' &&
      r.createdAt >= q.from &&
      r.createdAt < q.to &&
      (userId === undefined || r.userId === userId),
  );
  const series = [];
  for (let t = Math.floor(q.from / bucketMs) * bucketMs; t < q.to; t += bucketMs) {
    const b = inRange.filter((r) => r.createdAt >= t && r.createdAt < t + bucketMs);
    series.push({
      t: new Date(t).toISOString(),
      requests: b.length,
      tokens: b.reduce((n, r) => n + r.promptTokens + r.completionTokens, 0),
      quota: b.reduce((n, r) => n + r.quota, 0),
      errors: b.filter((r) => r.status >= 400).length,
    });
  }
  const top = <K extends string | number>(key: (r: UsageRecord) => K | null) => {
    const by = new Map<K, { key: K; requests: number; quota: number }>();
    for (const r of inRange) {
      const k = key(r);
      if (k === null) continue;
      const e = by.get(k) ?? { key: k, requests: 0, quota: 0 };
      e.requests += 1;
      e.quota += r.quota;
      by.set(k, e);
    }
    return [...by.values()]
      .sort((a, b) => b.requests - a.requests || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, q.top);
  };
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    bucket: q.bucket,
    series,
    top_models: top((r) => r.model).map((e) => ({ model: e.key, requests: e.requests, quota: e.quota })),
    top_channels: admin
      ? top((r) => r.channelId).map((e) => ({
          channel_id: e.key,
          name: null,
          requests: e.requests,
          quota: e.quota,
        }))
      : [],
    top_tokens: top((r) => r.tokenId).map((e) => ({
      token_id: e.key,
      name: null,
      requests: e.requests,
      quota: e.quota,
    })),
  };
}

/** `usage_hourly` as stored, and as the usage rows say it should be, both in key order. */
async function rollUpAndLog(db: Db) {
  const key = ['hour', 'user_id', 'token_id', 'channel_id', 'model'];
  const stored = await db('usage_hourly')
    .select(...key, 'requests', 'errors', 'prompt_tokens', 'completion_tokens', 'quota')
    .orderBy(key);
  const derived = await db('usage_logs')
    .where('type', 'consume')
    .select(
      db.raw('FLOOR(created_at / ?) * ? AS hour', [HOUR, HOUR]),
      'user_id',
      db.raw('COALESCE(token_id, 0) AS token_id'),
      db.raw('COALESCE(channel_id, 0) AS channel_id'),
      db.raw("COALESCE(model, '') AS model"),
      db.raw('COUNT(*) AS requests'),
      db.raw('SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors'),
      db.raw('SUM(prompt_tokens) AS prompt_tokens'),
      db.raw('SUM(completion_tokens) AS completion_tokens'),
      db.raw('SUM(quota) AS quota'),
    )
    .groupBy(key)
    .orderBy(key);
  const plain = (rows: Record<string, unknown>[]) =>
    rows.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'model' ? v : Number(v)])),
    );
  return { stored: plain(stored), derived: plain(derived) };
}

const names = { namesByIds: async () => new Map<number, string>() };
const admin: Actor = { userId: 99, username: 'root', role: 'root', group: 'default' };
const user = (id: number): Actor => ({ userId: id, username: `u${id}`, role: 'user', group: 'default' });

for (const driver of ['sqlite', 'mysql'] as Driver[]) {
  describe(`usage roll-up (usage_hourly) on ${driver}`, function () {
    this.timeout(60_000);
    let tdb: TestDatabase;
    let db: Db;
    let usage: UsageLogRepository;
    let charges: ChargeRepository;
    let service: UsageService;

    beforeEach(async () => {
      tdb = await createTestDatabase(driver);
      db = createDb({ databaseUrl: tdb.databaseUrl, dataDir: tdb.dataDir, sqliteFile: tdb.sqliteFile });
      await migrateLatest(db);
      usage = new UsageLogRepository(db);
      charges = new ChargeRepository(db, usage, new TokenRepository(db), new UserRepository(db));
      service = new UsageService(usage, names, names);
    });

    afterEach(async () => {
      await db.destroy();
      await tdb.drop();
    });

    const entry = (u: UsageRecord): ChargeEntry => ({ usage: u, tokenLimited: false, userLimited: false });

    /** Random ranges: inside one hour, on hour boundaries, across them at odd offsets, by hour and by day. */
    function queries(rand: () => number): Query[] {
      const at = () => BASE - 3 * HOUR + Math.floor(rand() * 78 * HOUR);
      const hour = () => Math.floor(at() / HOUR) * HOUR;
      const out: Query[] = [];
      for (let i = 0; i < 24; i++) {
        const kind = i % 6;
        let from: number;
        let to: number;
        if (kind === 0) {
          from = hour() + Math.floor(rand() * HOUR * 0.5);
          to = from + 1 + Math.floor(rand() * HOUR * 0.4); // inside one hour
        } else if (kind === 1) {
          from = hour();
          to = from + (1 + Math.floor(rand() * 40)) * HOUR; // whole hours only
        } else if (kind === 2) {
          from = hour();
          to = from + Math.floor(rand() * 50 * HOUR) + 1; // aligned start, odd end
        } else if (kind === 3) {
          to = hour();
          from = to - Math.floor(rand() * 50 * HOUR) - 1; // odd start, aligned end
        } else {
          [from, to] = [at(), at()].sort((a, b) => a - b) as [number, number];
          if (from === to) to += 1;
        }
        out.push({
          from,
          to,
          bucket: i % 4 === 3 ? 'day' : 'hour',
          top: 1 + Math.floor(rand() * 6),
          user_id: rand() < 0.4 ? 1 + Math.floor(rand() * 3) : undefined,
        });
      }
      // The whole data set at once, by day.
      out.push({ from: BASE - 5 * HOUR, to: BASE + 80 * HOUR, bucket: 'day', top: 50 });
      return out;
    }

    async function expectDashboardsMatch(rows: UsageRecord[], rand: () => number) {
      for (const q of queries(rand)) {
        const label = JSON.stringify(q);
        expect(await service.dashboard(admin, q), label).to.deep.equal(fromRows(rows, q, true, admin.userId));
        const self = 1 + Math.floor(rand() * 3);
        expect(await service.dashboard(user(self), q), `user ${self} ${label}`).to.deep.equal(
          fromRows(rows, q, false, self),
        );
      }
    }

    for (const seed of [1, 2, 3]) {
      it(`answers the dashboard exactly as the rows do, batches replayed on the way (seed ${seed})`, async () => {
        const rand = seededRandom(seed);
        const rows = randomRows(rand, 1500, `s${seed}`);
        const written: UsageRecord[] = [];
        let last: UsageRecord[] = [];
        for (let i = 0; i < rows.length;) {
          const batch = rows.slice(i, i + 1 + Math.floor(rand() * 60));
          i += batch.length;
          const how = rand();
          if (how < 0.15) {
            // The log written by another path (admin top-ups, reconciliation) than the charge writer.
            await logUsage(db, batch);
          } else if (how < 0.35) {
            // A replay: the previous batch again along with this one (a flush that died before
            // its acknowledgement); only this one's charges are new.
            const n = await charges.apply([...last, ...batch].map(entry));
            expect(n).to.equal(batch.length);
          } else if (how < 0.5) {
            const w = await charges.applyWithRevs(batch.map(entry));
            if (driver === 'mysql') expect(w.fresh.size).to.equal(batch.length);
          } else {
            expect(await charges.apply(batch.map(entry))).to.equal(batch.length);
          }
          written.push(...batch);
          last = batch;
        }
        const { stored, derived } = await rollUpAndLog(db);
        expect(stored.length).to.be.greaterThan(100);
        expect(stored).to.deep.equal(derived);
        await expectDashboardsMatch(written, rand);
      });
    }

    it('counts a replayed batch once: a charge id already written adds nothing to the roll-up', async () => {
      const at = Date.UTC(2026, 10, 2, 9, 0, 0);
      const row = (id: string, over: Partial<UsageRecord> = {}) =>
        usageRow({
          chargeId: id,
          userId: 1,
          tokenId: 2,
          channelId: 3,
          createdAt: at + 60_000,
          promptTokens: 10,
          completionTokens: 5,
          quota: 7,
          ...over,
        });
      const first = [row('a'), row('b', { status: 502 }), row('c', { model: 'o3' })];
      expect(await charges.apply(first.map(entry))).to.equal(3);
      // Written again, alone and with a new charge, on the path a cluster's usage-flush takes too.
      expect(await charges.apply(first.map(entry))).to.equal(0);
      const again = await charges.applyWithRevs([...first, row('d')].map(entry));
      if (driver === 'mysql') expect([...again.fresh]).to.deep.equal(['d']);
      // The same charge twice in one batch counts once as well.
      expect(await charges.apply([row('e'), row('e')].map(entry))).to.equal(1);
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored).to.deep.equal(derived);
      expect(stored).to.deep.equal([
        {
          hour: at,
          user_id: 1,
          token_id: 2,
          channel_id: 3,
          model: 'gpt-4o',
          requests: 4,
          errors: 1,
          prompt_tokens: 40,
          completion_tokens: 20,
          quota: 28,
        },
        {
          hour: at,
          user_id: 1,
          token_id: 2,
          channel_id: 3,
          model: 'o3',
          requests: 1,
          errors: 0,
          prompt_tokens: 10,
          completion_tokens: 5,
          quota: 7,
        },
      ]);
      const d = await service.dashboard(admin, { from: at, to: at + HOUR, bucket: 'hour', top: 10 });
      expect(d.series).to.deep.equal([
        { t: new Date(at).toISOString(), requests: 5, tokens: 75, quota: 35, errors: 1 },
      ]);
    });

    it('the migration fills the roll-up from the rows already logged', async () => {
      await db.migrate.down();
      expect(await db.schema.hasTable('usage_hourly')).to.equal(false);
      const rand = seededRandom(7);
      // Three days of rows, then a gap of a month, then a few more: windows with nothing are skipped.
      const rows = randomRows(rand, 800, 'old');
      for (const [i, r] of rows.entries()) if (i % 10 === 0) r.createdAt += 30 * DAY;
      for (let i = 0; i < rows.length; i += 100) {
        await db('usage_logs').insert(
          rows.slice(i, i + 100).map((r) => ({
            charge_id: r.chargeId,
            request_id: r.requestId,
            type: r.type,
            created_at: r.createdAt,
            user_id: r.userId,
            token_id: r.tokenId,
            channel_id: r.channelId,
            model: r.model,
            prompt_tokens: r.promptTokens,
            completion_tokens: r.completionTokens,
            quota: r.quota,
            status: r.status,
          })),
        );
      }
      await db.migrate.up();
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored.length).to.be.greaterThan(100);
      expect(stored).to.deep.equal(derived);
      const q: Query = { from: BASE - 5 * HOUR, to: BASE + 32 * DAY, bucket: 'day', top: 50 };
      expect(await service.dashboard(admin, q)).to.deep.equal(fromRows(rows, q, true, admin.userId));
      await expectDashboardsMatch(rows, rand);
    });
  });
}
