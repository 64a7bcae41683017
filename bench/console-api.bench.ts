/**
 * `npm run bench:console`: how fast the console's heavy reads answer at scale, on SQLite and on
 * MariaDB. An in-process gateway with BENCH_CHANNELS (10,000) channels and BENCH_USAGE (200,000)
 * usage rows spread over 30 days, 5 users, 50 tokens, 5 models and BENCH_USAGE_CHANNELS (all)
 * channels, written as the gateway writes them (with the hourly roll-up); each query is asked
 * BENCH_ROUNDS (30) times through HTTP (with an admin token) after one warm-up, and p50/p95/max
 * are printed in ms.
 */
import { startTestGateway, type TestGateway } from '../test/helpers/gateway.js';
import type { Driver } from '../test/helpers/databases.js';
import { insertManyChannels } from '../test/helpers/many-channels.js';
import { UsageLogRepository, type UsageRecord } from '../lib/db/repositories/usage-log.repository.js';

const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 10_000);
const USAGE = Number(process.env.BENCH_USAGE ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
/** How many channels the usage rows go to, in turn (all of them: every request of an hour on another channel). */
const USAGE_CHANNELS = Number(process.env.BENCH_USAGE_CHANNELS ?? CHANNELS);
const DRIVERS = (process.env.BENCH_DRIVERS ?? 'sqlite,mysql').split(',') as Driver[];
const DAY = 86_400_000;

async function seed(gw: TestGateway): Promise<void> {
  const db = gw.gateway.db;
  const usage = new UsageLogRepository(db);
  const now = Date.now();
  await insertManyChannels(gw, CHANNELS, { nameDigits: 6, now });
  const models = ['gpt-4o', 'gpt-4o-mini', 'claude-3', 'o3', 'gemini-2.5'];
  for (let start = 0; start < USAGE; start += 5000) {
    const rows: UsageRecord[] = [];
    for (let i = start; i < Math.min(USAGE, start + 5000); i++) {
      rows.push({
        chargeId: `c-${i}`,
        requestId: `r-${i}`,
        type: 'consume',
        createdAt: now - Math.floor((i / USAGE) * 30 * DAY),
        userId: 1 + (i % 5),
        tokenId: 1 + (i % 50),
        channelId: 1 + (i % USAGE_CHANNELS),
        model: models[i % models.length]!,
        upstreamModel: models[i % models.length]!,
        promptTokens: 100 + (i % 900),
        completionTokens: 50 + (i % 300),
        cachedTokens: 0,
        quota: 300 + (i % 1000),
        latencyMs: 200 + (i % 3000),
        ttftMs: null,
        stream: i % 2 === 0,
        status: i % 97 === 0 ? 502 : 200,
        retries: 0,
        note: null,
      });
    }
    // As the gateway writes them: the rows and their hourly roll-up in one transaction.
    await db.transaction((trx) => usage.insertMany(trx, rows));
  }
}

async function measure(gw: TestGateway, path: string): Promise<{ p50: number; p95: number; max: number }> {
  const once = async () => {
    const t = performance.now();
    const r = await gw.admin('GET', path);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return performance.now() - t;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) times.push(await once());
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), max: at(1) };
}

const QUERIES = [
  `/api/channels?per_page=100`,
  `/api/channels?per_page=100&page=${Math.ceil(CHANNELS / 100)}`,
  '/api/channels?per_page=100&sort=priority&order=desc',
  '/api/channels?per_page=100&type=azure&status=enabled',
  '/api/channels?per_page=100&model=gpt-4o&group=vip&q=up3',
  '/api/dashboard?bucket=hour',
  '/api/dashboard?bucket=day',
  '/api/logs?per_page=50',
  '/api/logs?per_page=50&model=o3&status=502',
];

for (const driver of DRIVERS) {
  const gw = await startTestGateway({ driver });
  try {
    const t = performance.now();
    await seed(gw);
    const hourly = await gw.gateway.db('usage_hourly').count({ n: '*' }).first();
    console.log(
      `\n${driver}: ${CHANNELS} channels, ${USAGE} usage rows on ${USAGE_CHANNELS} channels, ${Number(hourly?.n)} roll-up rows (seeded in ${Math.round(performance.now() - t)} ms); ${ROUNDS} rounds`,
    );
    console.log('| query | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- |');
    for (const q of QUERIES) {
      const m = await measure(gw, q);
      console.log(`| \`${q}\` | ${m.p50} | ${m.p95} | ${m.max} |`);
    }
  } finally {
    await gw.stop();
  }
}
