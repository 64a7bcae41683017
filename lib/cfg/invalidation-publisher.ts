import type { Logger } from 'pino';
import type { ConfigChange } from '../db/repositories/config-state.repository.js';
import type { Metrics } from '../obs/metrics.js';
import { L2Store } from './l2-store.js';
import type { ChangeListener, ConfigRecord } from './versioned-writer.js';

/**
 * The writer's after-commit steps in a cluster (docs/architecture.md, "A config write's life"): update L2 by
 * version compare-and-set (a tombstone on delete), raise `cfg:version`, publish the change on
 * `cfg:invalidate`. Each step is best effort: a failure is logged and counted, and the sync
 * loop (poll, beacon, resync job) heals what it left undone.
 */
export class InvalidationPublisher implements ChangeListener {
  constructor(
    private readonly l2: L2Store,
    private readonly nodeId: string,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  async onCommitted(change: ConfigChange & { epoch: string }, record?: ConfigRecord): Promise<void> {
    await this.step('l2', async () => {
      // Prices and groups are not in L2: their writers give no record.
      if (!record || change.kind === 'price' || change.kind === 'group') return;
      const kind = change.kind;
      if (change.op === 'delete') {
        await this.l2.tombstone(kind, L2Store.idOf(kind, record as never), change.version);
      } else {
        await this.l2.put(kind, record as never);
      }
    });
    await this.step('version', () => this.l2.raiseVersion({ epoch: change.epoch, version: change.version }));
    await this.step('publish', () =>
      this.l2.publish({
        epoch: change.epoch,
        v: change.version,
        kind: change.kind,
        id: change.entityId,
        op: change.op,
        node: this.nodeId,
        at: change.at,
      }),
    );
  }

  private async step(name: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.metrics.cfgPublishFailures.inc({ step: name });
      this.logger.warn(
        { err: { message: (err as Error).message }, step: name },
        'config change not fully published',
      );
    }
  }
}
