import type { Logger } from 'pino';
import type { Component } from './lifecycle.js';

/**
 * The once-per-cluster work, run on a schedule: BullMQ job schedulers in a cluster
 * (`JobRunner`), in-process timers on a single node ({@link TimerScheduler}). Both are
 * components with one start/stop shape.
 */
export type Scheduler = Component;

/** One periodic task: `run` every `everyMs` (0: never). */
export interface ScheduledTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * A single node's scheduler: each task on a timer of its own, never overlapping itself; a round
 * under way at stop gets `stopWaitMs` to finish before the pools close under it.
 */
export class TimerScheduler implements Scheduler {
  readonly name = 'scheduler';
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly tasks: ScheduledTask[],
    private readonly logger: Logger,
    private readonly stopWaitMs = 5000,
  ) {}

  start(): void {
    for (const task of this.tasks) {
      if (task.everyMs <= 0) continue;
      const timer = setInterval(() => this.tick(task), task.everyMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  private tick(task: ScheduledTask): void {
    if (this.running.has(task.name)) return;
    const round = task
      .run()
      .catch((err: unknown) =>
        this.logger.warn(
          { err: { message: (err as Error).message }, task: task.name },
          'scheduled task failed',
        ),
      )
      .finally(() => this.running.delete(task.name));
    this.running.set(task.name, round);
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.running.size === 0) return;
    await Promise.race([
      Promise.all(this.running.values()),
      new Promise((resolve) => setTimeout(resolve, this.stopWaitMs).unref()),
    ]);
  }
}
