import type { Logger } from 'pino';
import type {
  ConfigChange,
  ConfigKind,
  ConfigOp,
  ConfigStateRepository,
} from '../db/repositories/config-state.repository.js';
import type { Db, Trx } from '../db/knex.js';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';

/** Told of each committed change, after commit, in commit order of this process. */
export interface ChangeListener {
  /** `record` is the entity as written (upsert) or as it was (delete), when the writer gave it. */
  onCommitted(change: ConfigChange & { epoch: string }, record?: ConfigRecord): Promise<void> | void;
}

/** The entity a change wrote, as stored. */
export type ConfigRecord = ChannelRecord | TokenRecord | UserRecord;

/** What a write callback returns: the entity it touched, how, and the value for the caller. */
export interface WriteOutcome<T> {
  entityId: number | string;
  op: ConfigOp;
  result: T;
  /** The entity after an upsert, or before a delete: lets after-commit steps fill caches without a read. */
  record?: ConfigRecord;
}

/**
 * The one path for changing cached config (docs/architecture.md, "A config write's life"): a single transaction
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
    const { change, result, record } = await this.db.transaction(async (trx) => {
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
      return { change, result: outcome.result, record: outcome.record };
    });
    for (const listener of this.listeners) {
      try {
        await listener.onCommitted(change, record);
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
