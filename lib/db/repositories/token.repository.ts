import type { Knex } from 'knex';
import { ConflictError } from '../../errors/conflict.error.js';
import { col, TableMap } from '../columns.js';
import { num } from '../json-column.js';
import type { Db, Trx } from '../knex.js';
import { mapUniqueViolation, paginate } from '../query-helpers.js';
import { BalanceRows } from './balance-rows.js';
import { whereContains } from '../where-contains.js';

export type TokenStatus = 'enabled' | 'disabled';

/** A relay API key as stored: only the SHA-256 of the key itself. */
export interface TokenRecord {
  id: number;
  name: string;
  userId: number;
  keyHash: string;
  keyPrefix: string;
  group: string;
  status: TokenStatus;
  quota: number | null;
  usedQuota: number;
  expiresAt: number | null;
  models: string[] | null;
  subnets: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
  accessedAt: number | null;
}

export type TokenValues = Pick<
  TokenRecord,
  | 'name'
  | 'userId'
  | 'keyHash'
  | 'keyPrefix'
  | 'group'
  | 'status'
  | 'quota'
  | 'expiresAt'
  | 'models'
  | 'subnets'
  | 'rpmLimit'
  | 'tpmLimit'
>;

export interface TokenListFilter {
  page: number;
  perPage: number;
  userId?: number;
  q?: string;
  status?: TokenStatus;
}

/** The `tokens` table, described once. */
const tokens = new TableMap<TokenRecord>({
  id: col.number('id'),
  name: col.string('name'),
  userId: col.number('user_id'),
  keyHash: col.string('key_hash'),
  keyPrefix: col.string('key_prefix'),
  group: col.string('group_name'),
  status: col.oneOf<TokenStatus>('status'),
  quota: col.numberOrNull('quota'),
  usedQuota: col.number('used_quota'),
  expiresAt: col.numberOrNull('expires_at'),
  models: col.jsonOrNull<string[]>('models'),
  subnets: col.jsonOrNull<string[]>('subnets'),
  rpmLimit: col.numberOrNull('rpm_limit'),
  tpmLimit: col.numberOrNull('tpm_limit'),
  version: col.number('version'),
  createdAt: col.number('created_at'),
  updatedAt: col.number('updated_at'),
  accessedAt: col.numberOrNull('accessed_at'),
});
const toRecord = (r: Record<string, unknown>) => tokens.toRecord(r);
const toRow = (v: Partial<TokenValues>) => tokens.toRow(v);

const conflict = (name: string | undefined) => () =>
  new ConflictError(`This user already has a token named "${name ?? ''}"`, { param: 'name' });

/** The only code that queries `tokens`. */
export class TokenRepository extends BalanceRows {
  constructor(db: Db) {
    super(db, 'tokens');
  }

  /** The names of the rows in `ids` (those that still exist). */
  async namesByIds(ids: number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.db('tokens').whereIn('id', ids).select('id', 'name')) as {
      id: unknown;
      name: unknown;
    }[];
    return new Map(rows.map((r) => [num(r.id), String(r.name)]));
  }

  async findById(id: number, q: Knex = this.db): Promise<TokenRecord | undefined> {
    const row = await q('tokens').where({ id }).first();
    return row ? toRecord(row) : undefined;
  }

  async findByHash(keyHash: string, q: Knex = this.db): Promise<TokenRecord | undefined> {
    const row = await q('tokens').where({ key_hash: keyHash }).first();
    return row ? toRecord(row) : undefined;
  }

  async findByHashes(keyHashes: string[]): Promise<TokenRecord[]> {
    if (keyHashes.length === 0) return [];
    return (await this.db('tokens').whereIn('key_hash', keyHashes)).map(toRecord);
  }

  async list(f: TokenListFilter): Promise<{ rows: TokenRecord[]; total: number }> {
    const base = this.db('tokens').where((w) => {
      if (f.userId !== undefined) w.where('user_id', f.userId);
      if (f.q) whereContains(w, 'name', f.q);
      if (f.status) w.where('status', f.status);
    });
    return paginate(base, f.page, f.perPage, toRecord);
  }

  async insert(trx: Trx, values: TokenValues, version: number): Promise<number> {
    const now = Date.now();
    const row = { ...toRow(values), used_quota: 0, version, created_at: now, updated_at: now };
    const [id] = await mapUniqueViolation(() => trx('tokens').insert(row), conflict(values.name));
    return num(id);
  }

  async update(trx: Trx, id: number, values: Partial<TokenValues>, version: number): Promise<void> {
    const row = { ...toRow(values), version, updated_at: Date.now() };
    await mapUniqueViolation(() => trx('tokens').where({ id }).update(row), conflict(values.name));
  }

  async delete(trx: Trx, id: number): Promise<boolean> {
    return (await trx('tokens').where({ id }).delete()) > 0;
  }

  /** Records last use; callers throttle it, it is not on every request. */
  async touch(ids: number[], at: number): Promise<void> {
    if (ids.length > 0) await this.db('tokens').whereIn('id', ids).update({ accessed_at: at });
  }
}
