import type { Knex } from 'knex';
import { ConflictError } from '../../errors/conflict.error.js';
import { isUniqueViolation } from '../db-errors.js';
import { num, numOrNull } from '../json-column.js';
import type { Db, Trx } from '../knex.js';
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
  version: number;
  createdAt: number;
  updatedAt: number;
}

export type UserValues = Pick<UserRecord, 'username' | 'role' | 'group' | 'quota' | 'status'>;

function toRecord(r: Record<string, unknown>): UserRecord {
  return {
    id: num(r.id),
    username: String(r.username),
    role: r.role as Role,
    group: String(r.group_name),
    quota: numOrNull(r.quota),
    usedQuota: num(r.used_quota),
    status: r.status as UserStatus,
    version: num(r.version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toRow(v: Partial<UserValues>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  if (v.username !== undefined) row.username = v.username;
  if (v.role !== undefined) row.role = v.role;
  if (v.group !== undefined) row.group_name = v.group;
  if (v.quota !== undefined) row.quota = v.quota;
  if (v.status !== undefined) row.status = v.status;
  return row;
}

/** The only code that queries `users`. */
export class UserRepository {
  constructor(private readonly db: Db) {}

  async findById(id: number, q: Knex = this.db): Promise<UserRecord | undefined> {
    const row = await q('users').where({ id }).first();
    return row ? toRecord(row) : undefined;
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
    const [countRow, rows] = await Promise.all([
      base.clone().count({ n: '*' }).first(),
      base
        .clone()
        .select('*')
        .orderBy('id')
        .limit(f.perPage)
        .offset((f.page - 1) * f.perPage),
    ]);
    return { rows: rows.map(toRecord), total: num(countRow?.n ?? 0) };
  }

  async insert(trx: Trx, values: UserValues, version: number): Promise<number> {
    const now = Date.now();
    try {
      const [id] = await trx('users').insert({
        ...toRow(values),
        used_quota: 0,
        version,
        created_at: now,
        updated_at: now,
      });
      return num(id);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`A user named "${values.username}" already exists`, { param: 'username' });
      throw err;
    }
  }

  async update(trx: Trx, id: number, values: Partial<UserValues>, version: number): Promise<void> {
    try {
      await trx('users')
        .where({ id })
        .update({ ...toRow(values), version, updated_at: Date.now() });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`A user named "${values.username}" already exists`, { param: 'username' });
      throw err;
    }
  }

  async delete(trx: Trx, id: number): Promise<boolean> {
    return (await trx('users').where({ id }).delete()) > 0;
  }
}
