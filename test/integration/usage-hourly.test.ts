import { expect } from 'chai';
import type { Actor } from '../../lib/admin/actor.js';
import { UsageService } from '../../lib/admin/usage.service.js';
import type { ChargeEntry } from '../../lib/billing/billing-store.js';
import { createDb, migrateLatest, type Db } from '../../lib/db/knex.js';
import { ChargeRepository } from '../../lib/db/repositories/charge.repository.js';
import { TokenRepository } from '../../lib/db/repositories/token.repository.js';
import { UsageLogRepository, type UsageRecord } from '../../lib/db/repositories/usage-log.repository.js';
import {
  UsageRollupRepository,
  type BackfillStep,
} from '../../lib/db/repositories/usage-rollup.repository.js';
import { UsageHourlyBackfill } from '../../lib/db/usage-hourly-backfill.js';
import { createLogger } from '../../lib/obs/logger.js';
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
    let rollup: UsageRollupRepository;
    const started: UsageHourlyBackfill[] = [];

    beforeEach(async () => {
      tdb = await createTestDatabase(driver);
      db = createDb({ databaseUrl: tdb.databaseUrl, dataDir: tdb.dataDir, sqliteFile: tdb.sqliteFile });
      await migrateLatest(db);
      usage = new UsageLogRepository(db);
      charges = new ChargeRepository(db, usage, new TokenRepository(db), new UserRepository(db));
      rollup = new UsageRollupRepository(db);
      service = new UsageService(usage, rollup, names, names);
    });

    afterEach(async () => {
      // A test that failed half-way leaves its backfill running: stopped before the pool closes.
      await Promise.all(started.splice(0).map((b) => b.stop()));
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

    /** Usage rows as a release before the roll-up logged them: into `usage_logs` only. */
    async function logOld(rows: UsageRecord[]) {
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
    }

    /** The roll-up as stored and as derived, of the hours from `from` on only. */
    async function rollUpFrom(from: number) {
      const { stored, derived } = await rollUpAndLog(db);
      const keep = (rows: Record<string, unknown>[]) => rows.filter((r) => Number(r.hour) >= from);
      return { stored: keep(stored), derived: keep(derived) };
    }

    /** A backfill whose progress lines and warnings are kept, and whose steps are counted. */
    function backfillOf(repo: UsageRollupRepository, opts: { windowHours?: number } = {}) {
      const lines: { level: number; msg: string }[] = [];
      const logger = createLogger({
        level: 'info',
        pretty: false,
        destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
      });
      const steps: BackfillStep[] = [];
      const counted = {
        backfillStep: async (hours: number) => {
          const step = await repo.backfillStep(hours);
          steps.push(step);
          return step;
        },
      };
      const backfill = new UsageHourlyBackfill(counted, logger, { pauseMs: 0, retryMs: 20, ...opts });
      started.push(backfill);
      return { backfill, lines, steps };
    }

    const mark = async () => Number((await db('usage_hourly_state').where({ id: 1 }).first())?.complete_from);

    it('the migration only makes the roll-up and its mark; the backfill fills it, the dashboard is exact all along', async () => {
      await db.migrate.down();
      await db.migrate.down();
      expect(await db.schema.hasTable('usage_hourly')).to.equal(false);
      expect(await db.schema.hasTable('usage_hourly_state')).to.equal(false);
      const rand = seededRandom(7);
      // Three days of rows, and a tenth of them a month earlier: the month between costs one step.
      const rows = randomRows(rand, 800, 'old');
      for (const [i, r] of rows.entries()) if (i % 10 === 0) r.createdAt -= 30 * DAY;
      await logOld(rows);
      const before = Date.now();
      await db.migrate.latest();
      const after = Date.now();
      // Nothing rolled up at migration time; complete from the next whole hour on.
      expect(Number((await db('usage_hourly').count({ n: '*' }).first())?.n)).to.equal(0);
      expect(await mark()).to.be.oneOf([
        (Math.floor(before / HOUR) + 1) * HOUR,
        (Math.floor(after / HOUR) + 1) * HOUR,
      ]);
      const whole: Query = { from: BASE - 32 * DAY, to: BASE + 4 * DAY, bucket: 'day', top: 50 };
      expect(await service.dashboard(admin, whole)).to.deep.equal(fromRows(rows, whole, true, admin.userId));
      await expectDashboardsMatch(rows, rand);

      // Part of the way: the mark in the middle of the three days.
      for (let i = 0; i < 5; i++) expect((await rollup.backfillStep(6)).done).to.equal(false);
      const middle = await mark();
      const newest = Math.max(...rows.map((r) => r.createdAt));
      expect(middle).to.equal((Math.floor(newest / HOUR) + 1) * HOUR - 30 * HOUR);
      const part = await rollUpFrom(middle);
      expect(part.stored.length).to.be.greaterThan(50);
      expect(part.stored).to.deep.equal(part.derived);
      expect((await rollUpAndLog(db)).stored.length).to.equal(part.stored.length);
      expect(await service.dashboard(admin, whole)).to.deep.equal(fromRows(rows, whole, true, admin.userId));
      await expectDashboardsMatch(rows, rand);

      // The rest, by the background loop.
      const { backfill, lines, steps } = backfillOf(rollup);
      backfill.start();
      await backfill.finished();
      expect(await mark()).to.equal(0);
      // 76 hours in 6-hour windows, twice (the three days and the month before), and the last look.
      expect(steps.length).to.be.within(20, 30);
      expect(steps.at(-1)!.done).to.equal(true);
      expect(lines.filter((l) => l.level >= 40)).to.deep.equal([]);
      expect(lines.at(-1)!.msg).to.equal('usage roll-up backfill complete');
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored.length).to.be.greaterThan(100);
      expect(stored).to.deep.equal(derived);
      expect(await service.dashboard(admin, whole)).to.deep.equal(fromRows(rows, whole, true, admin.userId));
      await expectDashboardsMatch(rows, rand);
      // Complete: a further start does nothing.
      expect(await rollup.backfillStep(6)).to.deep.equal({ done: true, rows: 0, completeFrom: 0 });
    });

    it('the backfill goes on from its mark after a stop (another node, another connection pool)', async () => {
      const rand = seededRandom(11);
      const rows = randomRows(rand, 600, 'resume');
      await logOld(rows);
      const top = Math.ceil((BASE + 80 * HOUR) / HOUR) * HOUR;
      await db('usage_hourly_state').where({ id: 1 }).update({ complete_from: top });
      const first = backfillOf(rollup, { windowHours: 3 });
      first.backfill.start();
      const deadline = Date.now() + 20_000;
      while (first.steps.length < 4 && first.lines.every((l) => l.level < 40) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(first.lines.filter((l) => l.level >= 40)).to.deep.equal([]);
      await first.backfill.stop();
      const stoppedAt = await mark();
      expect(stoppedAt).to.be.greaterThan(BASE).and.lessThan(top);
      await expectDashboardsMatch(rows, rand);
      // A new start: its own pool, its own repository.
      const again = createDb({
        databaseUrl: tdb.databaseUrl,
        dataDir: tdb.dataDir,
        sqliteFile: tdb.sqliteFile,
      });
      try {
        const second = backfillOf(new UsageRollupRepository(again), { windowHours: 3 });
        second.backfill.start();
        await second.backfill.finished();
        expect(second.steps[0]!.window![1]).to.equal(stoppedAt);
        expect(second.lines[0]!.msg).to.equal('usage roll-up backfill: complete from this hour on');
      } finally {
        await again.destroy();
      }
      expect(await mark()).to.equal(0);
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored).to.deep.equal(derived);
      await expectDashboardsMatch(rows, rand);
    });

    it('a late write into an hour not yet backfilled, being backfilled or done counts once', async () => {
      const rand = seededRandom(13);
      const rows = randomRows(rand, 600, 'base');
      await logOld(rows);
      await db('usage_hourly_state')
        .where({ id: 1 })
        .update({ complete_from: Math.ceil((BASE + 80 * HOUR) / HOUR) * HOUR });
      for (let i = 0; i < 4; i++) await rollup.backfillStep(6);
      const m = await mark();
      // Charges re-sent with their old time (after a Redis loss): the write path rolls them up.
      const late = (id: string, at: number) =>
        usageRow({
          chargeId: id,
          createdAt: at,
          userId: 2,
          tokenId: 3,
          channelId: 4,
          quota: 11,
          model: 'o3',
        });
      const written = [
        late('late-below', m - 2 * HOUR + 5000), // not yet backfilled (the next window)
        late('late-edge', m - 1), // the hour just below the mark
        late('late-far', m - 40 * HOUR), // many windows away
        late('late-above', m + 7 * HOUR + 1), // already backfilled
        late('late-mark', m), // the mark's own hour
      ];
      expect(await charges.apply(written.map(entry))).to.equal(written.length);
      // And once more: a replay adds nothing.
      expect(await charges.apply(written.map(entry))).to.equal(0);
      const all = [...rows, ...written];
      await expectDashboardsMatch(all, rand);
      const part = await rollUpFrom(m);
      expect(part.stored).to.deep.equal(part.derived);
      const { backfill } = backfillOf(rollup);
      backfill.start();
      await backfill.finished();
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored).to.deep.equal(derived);
      await expectDashboardsMatch(all, rand);
    });

    it('charges written while the backfill runs count once, and neither side fails', async () => {
      const rand = seededRandom(17);
      const rows = randomRows(rand, 1200, 'busy');
      await logOld(rows);
      await db('usage_hourly_state')
        .where({ id: 1 })
        .update({ complete_from: Math.ceil((BASE + 80 * HOUR) / HOUR) * HOUR });
      const { backfill, lines, steps } = backfillOf(rollup, { windowHours: 1 });
      backfill.start();
      const fresh = randomRows(rand, 900, 'during');
      let i = 0;
      while (i < fresh.length) {
        const batch = fresh.slice(i, i + 1 + Math.floor(rand() * 20));
        i += batch.length;
        expect(await charges.apply(batch.map(entry))).to.equal(batch.length);
      }
      await backfill.finished();
      expect(steps.length).to.be.greaterThan(70);
      expect(lines.filter((l) => l.level >= 40)).to.deep.equal([]);
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored).to.deep.equal(derived);
      await expectDashboardsMatch([...rows, ...fresh], rand);
    });

    it('the migrations run again after a start that died in them', async () => {
      await db.migrate.down();
      await db.migrate.down();
      const rows = randomRows(seededRandom(19), 300, 'died');
      await logOld(rows);
      // Died in the first one after its CREATE TABLE (on MySQL the keys come in later
      // statements, each committed on its own), and in the second before its row.
      await db.schema.createTable('usage_hourly', (t) => {
        t.bigInteger('hour');
        t.integer('user_id');
      });
      await db.schema.createTable('usage_hourly_state', (t) => {
        t.integer('id').primary();
      });
      await db.migrate.latest();
      expect(await mark()).to.be.greaterThan(Date.now());
      // The unique key is there: two batches of one key make one row.
      const at = BASE + 3 * HOUR;
      const one = (id: string) =>
        usageRow({ chargeId: id, createdAt: at, userId: 1, tokenId: 1, channelId: 1 });
      await charges.apply([entry(one('x'))]);
      await charges.apply([entry(one('y'))]);
      const hour = Math.floor(at / HOUR) * HOUR;
      expect(Number((await db('usage_hourly').where({ hour }).count({ n: '*' }).first())?.n)).to.equal(1);
      // And each `up` alone, again after it ran whole.
      const migrations = (await import('../../lib/db/migrations/index.js')).migrationSource;
      const all = await migrations.getMigrations([]);
      for (const name of ['20261129008100_create-usage-hourly', '20261129008200_create-usage-hourly-state']) {
        const m = all.find(([n]) => n === name)!;
        await (await migrations.getMigration(m)).up(db);
      }
      expect(await mark()).to.be.greaterThan(Date.now());
      const { backfill } = backfillOf(rollup);
      backfill.start();
      await backfill.finished();
      const { stored, derived } = await rollUpAndLog(db);
      expect(stored).to.deep.equal(derived);
      const q: Query = { from: BASE - 5 * HOUR, to: BASE + 4 * DAY, bucket: 'day', top: 50 };
      expect(await service.dashboard(admin, q)).to.deep.equal(
        fromRows([...rows, one('x'), one('y')], q, true, admin.userId),
      );
    });
  });
}
