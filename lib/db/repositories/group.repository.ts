import type { Knex } from 'knex';
import { num, numOrNull } from '../json-column.js';
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

function toRecord(r: Record<string, unknown>): GroupRecord {
  return {
    name: String(r.name),
    ratio: num(r.ratio),
    rpmLimit: numOrNull(r.rpm_limit),
    tpmLimit: numOrNull(r.tpm_limit),
    version: num(r.version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

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
    const values = { ratio: v.ratio, rpm_limit: v.rpmLimit, tpm_limit: v.tpmLimit, version, updated_at: now };
    const updated = await trx('groups').where({ name }).update(values);
    if (updated === 0) await trx('groups').insert({ name, ...values, created_at: now });
  }

  async delete(trx: Trx, name: string): Promise<boolean> {
    return (await trx('groups').where({ name }).delete()) > 0;
  }
}
