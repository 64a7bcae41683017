import type { Logger } from 'pino';
import type {
  ConfigChange,
  ConfigKind,
  ConfigOp,
  ConfigStateRepository,
} from '../db/repositories/config-state.repository.js';
import type { Db, Trx } from '../db/knex.js';

/** Told of each committed change, after commit, in commit order of this process. */
export interface ChangeListener {
  onCommitted(change: ConfigChange & { epoch: string }): Promise<void> | void;
}

/** What a write callback returns: the entity it touched, how, and the value for the caller. */
export interface WriteOutcome<T> {
  entityId: number | string;
  op: ConfigOp;
  result: T;
}

/**
 * The one path for changing cached config (DESIGN.md "Config versions"): a single transaction
 * that locks `config_state`, takes `version + 1`, lets the caller write the entity with that
 * version, and appends the change to `config_changes`. Versions are therefore gap-free and in
 * commit order. After commit the listeners run (apply locally; in a cluster, L2 and publish);
 * their failures are logged, never undo the write, and are healed by the sync loop.
 */
export class VersionedWriter {
  private readonly listeners: ChangeListener[] = [];

  constructor(
    private readonly db: Db,
    private readonly state: ConfigStateRepository,
    private readonly logger: Logger,
  ) {}

  addListener(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  async write<T>(
    kind: ConfigKind,
    work: (trx: Trx, version: number) => Promise<WriteOutcome<T>>,
  ): Promise<T> {
    const { change, result } = await this.db.transaction(async (trx) => {
      const current = await this.state.lockForUpdate(trx);
      const version = current.version + 1;
      const outcome = await work(trx, version);
      const change = {
        version,
        kind,
        entityId: String(outcome.entityId),
        op: outcome.op,
        at: Date.now(),
        epoch: current.epoch,
      };
      await this.state.setVersion(trx, version);
      await this.state.appendChange(trx, change);
      return { change, result: outcome.result };
    });
    for (const listener of this.listeners) {
      try {
        await listener.onCommitted(change);
      } catch (err) {
        this.logger.error(
          { err, version: change.version, kind, entityId: change.entityId },
          'after-commit step failed',
        );
      }
    }
    return result;
  }
}
