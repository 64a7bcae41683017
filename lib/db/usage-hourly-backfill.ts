import type { Logger } from 'pino';
import type { BackfillStep } from './repositories/usage-rollup.repository.js';

/** What the backfill needs of the database: one window rolled up per call. */
export interface BackfillSteps {
  backfillStep(hours: number): Promise<BackfillStep>;
}

export interface BackfillOptions {
  /** Hours per step (halved after a failed step, down to 1, and grown back after a good one). */
  windowHours: number;
  /** The least pause between two steps; a step that took longer is followed by as long a pause. */
  pauseMs: number;
  /** How long to wait after a failed step before the next. */
  retryMs: number;
  /** At most one progress line (info) per this long. */
  logEveryMs: number;
}

const DEFAULTS: BackfillOptions = { windowHours: 6, pauseMs: 1000, retryMs: 60_000, logEveryMs: 30_000 };

/**
 * Rolls up the usage rows logged before `usage_hourly` existed, after the node listens: one
 * window per step, newest first, each in a transaction of its own, with a pause between steps
 * at least as long as the step (the database spends at most half its time on it). Where it got
 * to is the stored mark, so a node stopped or killed half-way goes on from there at its next
 * start. Run by the node that writes config (a single node, or the master); a failure is
 * logged and retried later, never thrown.
 */
export class UsageHourlyBackfill {
  readonly name = 'usage-hourly-backfill';
  private readonly opts: BackfillOptions;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly steps: BackfillSteps,
    private readonly logger: Logger,
    opts: Partial<BackfillOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** Starts the loop in the background (it ends once the roll-up is complete, or at stop). */
  start(): void {
    this.stopped = false;
    this.running ??= this.run().finally(() => (this.running = undefined));
  }

  /** Resolves once the roll-up is complete (or the loop was stopped). */
  async finished(): Promise<void> {
    await this.running;
  }

  /** Stops after the step under way (bounded by `waitMs`: the step's transaction rolls back if the pool closes under it). */
  async stop(waitMs = 5000): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (!this.running) return;
    await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
  }

  private async run(): Promise<void> {
    let hours = this.opts.windowHours;
    let steps = 0;
    let rows = 0;
    let lastLog = 0;
    const startedAt = Date.now();
    while (!this.stopped) {
      const at = Date.now();
      let step: BackfillStep;
      try {
        step = await this.steps.backfillStep(hours);
      } catch (err) {
        hours = Math.max(1, Math.floor(hours / 2));
        this.logger.warn(
          { err: { message: (err as Error).message }, windowHours: hours, retryInMs: this.opts.retryMs },
          'usage roll-up backfill step failed; retrying later',
        );
        await this.sleep(this.opts.retryMs);
        continue;
      }
      if (step.done) {
        if (steps > 0)
          this.logger.info({ steps, rows, ms: Date.now() - startedAt }, 'usage roll-up backfill complete');
        return;
      }
      steps++;
      rows += step.rows;
      hours = Math.min(this.opts.windowHours, hours * 2);
      if (steps === 1 || Date.now() - lastLog >= this.opts.logEveryMs) {
        lastLog = Date.now();
        this.logger.info(
          { completeFrom: new Date(step.completeFrom).toISOString(), steps, rows },
          'usage roll-up backfill: complete from this hour on',
        );
      }
      await this.sleep(Math.max(this.opts.pauseMs, Date.now() - at));
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
