import type { Knex } from 'knex';
import { dialectOf, type Db, type Trx } from '../knex.js';
import { num } from '../json-column.js';

export type ConfigKind = 'channel' | 'token' | 'user' | 'price' | 'group';
export type ConfigOp = 'upsert' | 'delete';

/** One entry of `config_changes`: config version `version` changed entity `kind`/`entityId`. */
export interface ConfigChange {
  version: number;
  kind: ConfigKind;
  entityId: string;
  op: ConfigOp;
  at: number;
}

export interface ConfigState {
  epoch: string;
  version: number;
}

/** `config_state` (the one row that orders all config writes) and `config_changes` (the log). */
export class ConfigStateRepository {
  constructor(private readonly db: Db) {}

  /** Reads the state and, on MySQL, locks the row until the transaction ends (SQLite serialises writers itself). */
  async lockForUpdate(trx: Trx): Promise<ConfigState> {
    let q = trx('config_state').where({ id: 1 }).first('epoch', 'version');
    if (dialectOf(this.db) === 'mysql') q = q.forUpdate();
    const row = await q;
    // eslint-disable-next-line no-restricted-syntax -- impossible: the first migration creates the row
    if (!row) throw new Error('config_state row is missing: the migrations did not run');
    return { epoch: String(row.epoch), version: num(row.version) };
  }

  async read(q: Knex = this.db): Promise<ConfigState> {
    const row = await q('config_state').where({ id: 1 }).first('epoch', 'version');
    // eslint-disable-next-line no-restricted-syntax -- impossible: the first migration creates the row
    if (!row) throw new Error('config_state row is missing: the migrations did not run');
    return { epoch: String(row.epoch), version: num(row.version) };
  }

  async setVersion(trx: Trx, version: number): Promise<void> {
    await trx('config_state').where({ id: 1 }).update({ version, updated_at: Date.now() });
  }

  async appendChange(trx: Trx, change: ConfigChange): Promise<void> {
    await trx('config_changes').insert({
      version: change.version,
      kind: change.kind,
      entity_id: change.entityId,
      op: change.op,
      at: change.at,
    });
  }

  /** The changes after `version`, oldest first, at most `limit`. */
  async changesAfter(version: number, limit: number, q: Knex = this.db): Promise<ConfigChange[]> {
    const rows = await q('config_changes')
      .where('version', '>', version)
      .orderBy('version', 'asc')
      .limit(limit);
    return rows.map((r) => ({
      version: num(r.version),
      kind: r.kind as ConfigKind,
      entityId: String(r.entity_id),
      op: r.op as ConfigOp,
      at: num(r.at),
    }));
  }

  /** The newest `limit` changes, newest first. */
  async recentChanges(limit: number): Promise<ConfigChange[]> {
    const rows = await this.db('config_changes').orderBy('version', 'desc').limit(limit);
    return rows.map((r) => ({
      version: num(r.version),
      kind: r.kind as ConfigKind,
      entityId: String(r.entity_id),
      op: r.op as ConfigOp,
      at: num(r.at),
    }));
  }

  /** Deletes the log entries at or below `version`; returns how many. */
  async trimChanges(version: number): Promise<number> {
    if (version <= 0) return 0;
    return this.db('config_changes').where('version', '<=', version).delete();
  }
}
