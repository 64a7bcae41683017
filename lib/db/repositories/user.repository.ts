import type { Knex } from 'knex';
import { ConflictError } from '../../errors/conflict.error.js';
import { col, TableMap } from '../columns.js';
import { num } from '../json-column.js';
import type { Db, Trx } from '../knex.js';
import { mapUniqueViolation, paginate } from '../query-helpers.js';
import { BalanceRows } from './balance-rows.js';
import { whereContains } from '../where-contains.js';

export type Role = 'root' | 'admin' | 'user';
export type UserStatus = 'enabled' | 'disabled';

export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  group: string;
  quota: number | null;
  usedQuota: number;
  status: UserStatus;
  rpmLimit: number | null;
  tpmLimit: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export type UserValues = Pick<
  UserRecord,
  'username' | 'role' | 'group' | 'quota' | 'status' | 'rpmLimit' | 'tpmLimit'
>;

const conflict = (name: string | undefined) => () =>
  new ConflictError(`A user named "${name ?? ''}" already exists`, { param: 'username' });

/** The `users` table, described once. */
const users = new TableMap<UserRecord>({
  id: col.number('id'),
  username: col.string('username'),
  role: col.oneOf<Role>('role'),
  group: col.string('group_name'),
  quota: col.numberOrNull('quota'),
  usedQuota: col.number('used_quota'),
  status: col.oneOf<UserStatus>('status'),
  rpmLimit: col.numberOrNull('rpm_limit'),
  tpmLimit: col.numberOrNull('tpm_limit'),
  version: col.number('version'),
  createdAt: col.number('created_at'),
  updatedAt: col.number('updated_at'),
});
const toRecord = (r: Record<string, unknown>) => users.toRecord(r);
const toRow = (v: Partial<UserValues>) => users.toRow(v);

/** The only code that queries `users`. */
export class UserRepository extends BalanceRows {
  constructor(db: Db) {
    super(db, 'users');
  }

  async findById(id: number, q: Knex = this.db): Promise<UserRecord | undefined> {
    const row = await q('users').where({ id }).first();
    return row ? toRecord(row) : undefined;
  }

  async findByIds(ids: number[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    return (await this.db('users').whereIn('id', ids)).map(toRecord);
  }

  async findAll(q: Knex = this.db): Promise<UserRecord[]> {
    return (await q('users').select('*').orderBy('id')).map(toRecord);
  }

  async count(q: Knex = this.db): Promise<number> {
    const row = await q('users').count({ n: '*' }).first();
    return num(row?.n ?? 0);
  }

  async list(f: {
    page: number;
    perPage: number;
    q?: string;
    role?: Role;
  }): Promise<{ rows: UserRecord[]; total: number }> {
    const base = this.db('users').where((w) => {
      if (f.q) whereContains(w, 'username', f.q);
      if (f.role) w.where('role', f.role);
    });
    return paginate(base, f.page, f.perPage, toRecord);
  }

  async insert(trx: Trx, values: UserValues, version: number): Promise<number> {
    const now = Date.now();
    const row = { ...toRow(values), used_quota: 0, version, created_at: now, updated_at: now };
    const [id] = await mapUniqueViolation(() => trx('users').insert(row), conflict(values.username));
    return num(id);
  }

  async update(trx: Trx, id: number, values: Partial<UserValues>, version: number): Promise<void> {
    const row = { ...toRow(values), version, updated_at: Date.now() };
    await mapUniqueViolation(() => trx('users').where({ id }).update(row), conflict(values.username));
  }

  /** The user and its password hash (null: none set), by exact username. */
  async findForLogin(
    username: string,
  ): Promise<{ user: UserRecord; passwordHash: string | null } | undefined> {
    const row = await this.db('users').where({ username }).first();
    return row
      ? { user: toRecord(row), passwordHash: row.password_hash == null ? null : String(row.password_hash) }
      : undefined;
  }

  /** Which of `ids` have a console password. */
  async withPassword(ids: number[]): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    const rows = (await this.db('users').whereIn('id', ids).whereNotNull('password_hash').select('id')) as {
      id: unknown;
    }[];
    return new Set(rows.map((r) => num(r.id)));
  }

  async passwordHashOf(id: number): Promise<string | null | undefined> {
    const row = await this.db('users').where({ id }).first('password_hash');
    return row ? (row.password_hash == null ? null : String(row.password_hash)) : undefined;
  }

  /**
   * Sets the password hash. Not a versioned config write: the hash is no part of the cached
   * user record that nodes sync, and only sign-in reads it, from the database.
   */
  async setPasswordHash(id: number, hash: string | null, q: Knex = this.db): Promise<boolean> {
    const now = Date.now();
    return (await q('users').where({ id }).update({ password_hash: hash, password_changed_at: now })) > 0;
  }

  async delete(trx: Trx, id: number): Promise<boolean> {
    return (await trx('users').where({ id }).delete()) > 0;
  }
}
