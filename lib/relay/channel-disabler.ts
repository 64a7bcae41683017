import type { Logger } from 'pino';

/**
 * Takes a channel out of service cluster-wide when an upstream says its account is unusable.
 * On the master (or a single node) that is a versioned write; a replica cannot write config, so
 * it hands the request to the master (a job on the master's queue).
 */
export interface ChannelDisabler {
  disable(channelId: number, reason: string): void;
}

const REPEAT_AFTER_MS = 60_000;

/** Forwards each channel at most once a minute from this node; failures are logged, never thrown. */
export class DedupingDisabler implements ChannelDisabler {
  private readonly asked = new Map<number, number>();

  constructor(
    private readonly send: (channelId: number, reason: string) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  disable(channelId: number, reason: string): void {
    const now = Date.now();
    if ((this.asked.get(channelId) ?? 0) > now - REPEAT_AFTER_MS) return;
    this.asked.set(channelId, now);
    this.logger.warn({ channelId, reason }, 'auto-disabling channel');
    this.send(channelId, reason).catch((err: unknown) => {
      this.asked.delete(channelId);
      this.logger.error(
        { err: { message: (err as Error).message }, channelId },
        'could not auto-disable channel',
      );
    });
  }
}
