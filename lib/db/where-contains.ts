import type { Knex } from 'knex';

/**
 * Adds `column LIKE '%text%'` with the text's own % and _ escaped, the same on MySQL and SQLite
 * (SQLite has no default LIKE escape character, so it is named).
 */
export function whereContains<Q extends Knex.QueryBuilder>(
  q: Q,
  column: string,
  text: string,
  join: 'and' | 'or' = 'and',
): Q {
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const sql = '?? LIKE ? ESCAPE ?';
  return (
    join === 'or' ? q.orWhereRaw(sql, [column, pattern, '\\']) : q.whereRaw(sql, [column, pattern, '\\'])
  ) as Q;
}
