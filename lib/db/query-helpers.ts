import type { Knex } from 'knex';
import type { ConflictError } from '../errors/conflict.error.js';
import { isUniqueViolation } from './db-errors.js';
import { num } from './json-column.js';

/** Runs a write; a unique-key violation becomes the caller's 409 (naming the field), anything else passes. */
export async function mapUniqueViolation<T>(
  work: () => Promise<T>,
  conflict: () => ConflictError,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict();
    throw err;
  }
}

/** One page of a filtered query (ordered by id, or by `order` then id) and the total count of the filter. */
export async function paginate<R>(
  base: Knex.QueryBuilder,
  page: number,
  perPage: number,
  toRecord: (row: Record<string, unknown>) => R,
  order?: { column: string; dir: 'asc' | 'desc' },
): Promise<{ rows: R[]; total: number }> {
  const orderBy =
    order && order.column !== 'id'
      ? [
          { column: order.column, order: order.dir },
          { column: 'id', order: order.dir },
        ]
      : [{ column: 'id', order: order?.dir ?? 'asc' }];
  const [countRow, rows] = await Promise.all([
    base.clone().count({ n: '*' }).first(),
    base
      .clone()
      .select('*')
      .orderBy(orderBy)
      .limit(perPage)
      .offset((page - 1) * perPage),
  ]);
  return { rows: (rows as Record<string, unknown>[]).map(toRecord), total: num(countRow?.n ?? 0) };
}
