import type { Logger } from 'pino';
import type { ChannelHealthService } from '../lib/admin/channel-health.service.js';
import type { ChannelService } from '../lib/admin/channel.service.js';

/** What one round did, as bull-board shows it. */
export interface ChannelTestRound {
  tested: number;
  passed: number;
  failed: number;
  reenabled: number[];
  disabled: number[];
  ms: number;
}

/** Tests run at once. */
const CONCURRENCY = 4;

/**
 * The `channel-test` job (every CHANNEL_TEST_EVERY; on the master, whose writes these are; a
 * single node runs it on a timer): tests every enabled and auto-disabled channel and records
 * each result, re-enables each auto-disabled channel that passed, and disables each enabled one
 * whose test says its account is unusable — both as versioned writes. A channel disabled by
 * hand is neither tested nor touched.
 */
export class ChannelTestProcessor {
  constructor(
    private readonly channels: ChannelService,
    private readonly health: ChannelHealthService,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<ChannelTestRound> {
    const started = Date.now();
    const queue = await this.channels.testable();
    const round: ChannelTestRound = { tested: 0, passed: 0, failed: 0, reenabled: [], disabled: [], ms: 0 };
    const worker = async () => {
      for (let ch = queue.shift(); ch; ch = queue.shift()) {
        const { result } = await this.health.run(ch);
        round.tested++;
        if (result.ok) {
          round.passed++;
          if (ch.status === 'auto_disabled' && (await this.channels.autoEnable(ch.id, 'channel test passed')))
            round.reenabled.push(ch.id);
        } else {
          round.failed++;
          const reason = `channel test: ${result.message ?? 'unusable'}`;
          if (ch.status === 'enabled' && result.unusable && (await this.channels.autoDisable(ch.id, reason)))
            round.disabled.push(ch.id);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    round.ms = Date.now() - started;
    if (round.reenabled.length || round.disabled.length)
      this.logger.info(round, 'channel tests changed statuses');
    return round;
  }
}
