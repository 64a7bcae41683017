import type { Logger } from 'pino';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import type { ChannelTestRecord, ChannelTestRepository } from '../db/repositories/channel-test.repository.js';
import type { ChannelTester, ChannelTestResult } from '../relay/channel-tester.js';
import type { UpstreamStats } from '../relay/upstream-stats.js';
import type { ChannelHealth } from '../routing/channel-health.js';
import type { ChannelService } from './channel.service.js';
import { iso } from './validation.js';

function testView(t: ChannelTestRecord) {
  return {
    at: iso(t.testedAt),
    ok: t.ok,
    latency_ms: t.latencyMs,
    status: t.status,
    model: t.model,
    message: t.message,
  };
}

/**
 * Channel health for the admin API and the channel-test job: runs tests and records them, and
 * puts each channel's last test, its upstream stats (the whole cluster's) and this node's
 * cooldowns and breakers next to it.
 */
export class ChannelHealthService {
  constructor(
    private readonly channels: ChannelService,
    private readonly tests: ChannelTestRepository,
    private readonly tester: ChannelTester,
    private readonly stats: UpstreamStats,
    private readonly live: ChannelHealth,
    private readonly logger: Logger,
  ) {}

  /** The `health` field of each channel in `ids`. */
  async views(ids: number[]): Promise<Map<number, unknown>> {
    const [tests, stats] = await Promise.all([
      this.tests.find(ids),
      this.stats.read(ids).catch((err: unknown) => {
        this.logger.debug({ err: { message: (err as Error).message } }, 'upstream stats unreadable');
        return new Map();
      }),
    ]);
    const live = this.live.snapshot();
    const out = new Map<number, unknown>();
    for (const id of ids) {
      const test = tests.get(id);
      out.set(id, {
        last_test: test ? testView(test) : null,
        stats: stats.get(id) ?? null,
        // This node's view: cooldowns and breakers are shared, the failure window is per node.
        models: live
          .filter((h) => h.channelId === id)
          .map((h) => ({
            model: h.model,
            breaker: h.breaker,
            cooling_until: iso(h.coolingUntil),
            open_until: iso(h.openUntil),
            reason: h.coolReason,
            last_failed_at: iso(h.lastFailedAt),
            window_requests: h.windowRequests,
            window_failures: h.windowFailures,
          })),
      });
    }
    return out;
  }

  /** `POST /api/channels/:id/test`: tests the channel now and records the result. */
  async test(id: number, model?: string) {
    const { record } = await this.run(await this.channels.record(id), model);
    return testView(record);
  }

  /** The upstream's model list for the channel. */
  async upstreamModels(id: number): Promise<string[]> {
    return this.tester.upstreamModels(await this.channels.record(id));
  }

  /** Tests the channel and records the result. */
  async run(
    ch: ChannelRecord,
    model?: string,
  ): Promise<{ result: ChannelTestResult; record: ChannelTestRecord }> {
    const result = await this.tester.test(ch, model);
    const record = toRecord(ch.id, result);
    await this.tests.save(record);
    return { result, record };
  }
}

function toRecord(channelId: number, r: ChannelTestResult): ChannelTestRecord {
  return {
    channelId,
    testedAt: Date.now(),
    ok: r.ok,
    latencyMs: r.latencyMs,
    status: r.status,
    model: r.model,
    message: r.message,
  };
}
