import type { Knex } from 'knex';
import { col, TableMap } from '../columns.js';
import type { Db, Trx } from '../knex.js';

/** A group's price multiplier and its rate limits (for all of the group's traffic together). */
export interface GroupRecord {
  name: string;
  ratio: number;
  rpmLimit: number | null;
  tpmLimit: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export type GroupValues = Pick<GroupRecord, 'ratio' | 'rpmLimit' | 'tpmLimit'>;

/** The `groups` table, described once. */
const groups = new TableMap<GroupRecord>({
  name: col.string('name'),
  ratio: col.number('ratio'),
  rpmLimit: col.numberOrNull('rpm_limit'),
  tpmLimit: col.numberOrNull('tpm_limit'),
  version: col.number('version'),
  createdAt: col.number('created_at'),
  updatedAt: col.number('updated_at'),
});
const toRecord = (r: Record<string, unknown>) => groups.toRecord(r);

/** The only code that queries `groups`. */
export class GroupRepository {
  constructor(private readonly db: Db) {}

  async findAll(q: Knex = this.db): Promise<GroupRecord[]> {
    return (await q('groups').select('*').orderBy('name')).map(toRecord);
  }

  async find(name: string, q: Knex = this.db): Promise<GroupRecord | undefined> {
    const row = await q('groups').where({ name }).first();
    return row ? toRecord(row) : undefined;
  }

  /** Creates or replaces the settings of group `name`. */
  async upsert(trx: Trx, name: string, v: GroupValues, version: number): Promise<void> {
    const now = Date.now();
    const values = { ...groups.toRow(v), version, updated_at: now };
    const updated = await trx('groups').where({ name }).update(values);
    if (updated === 0) await trx('groups').insert({ name, ...values, created_at: now });
  }

  async delete(trx: Trx, name: string): Promise<boolean> {
    return (await trx('groups').where({ name }).delete()) > 0;
  }
}
