import type { Logger } from 'pino';

/** A part with a life: started in the order it was registered, stopped in reverse. */
export interface Component {
  readonly name: string;
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

/**
 * The node's components in start order. `start()` starts each in turn (a failure stops the ones
 * already started, in reverse, and rethrows); `stop()` stops every started one in reverse order,
 * logging (never throwing) a component's failure so the rest still stop.
 */
export class Lifecycle {
  private readonly components: Component[] = [];
  private started = 0;

  constructor(private readonly logger: Logger) {}

  add(component: Component): this {
    this.components.push(component);
    return this;
  }

  async start(): Promise<void> {
    for (const c of this.components) {
      try {
        await c.start?.();
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.started++;
    }
  }

  async stop(): Promise<void> {
    while (this.started > 0) {
      const c = this.components[--this.started]!;
      try {
        await c.stop?.();
      } catch (err) {
        this.logger.error({ err, component: c.name }, 'a component failed to stop');
      }
    }
  }
}
