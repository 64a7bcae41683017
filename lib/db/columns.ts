import { num, numOrNull, readJson } from './json-column.js';

/** How one record field is stored: its column, how a row's value is read, how a value is written. */
export interface Column<T> {
  readonly column: string;
  read(value: unknown): T;
  write(value: T): unknown;
}

const same = <T>(v: T): unknown => v;

/** Column kinds: each reads what SQLite and MySQL return (numbers as strings past 2^53, JSON as text). */
export const col = {
  string: (column: string): Column<string> => ({ column, read: (v) => String(v), write: same }),
  stringOrNull: (column: string): Column<string | null> => ({
    column,
    read: (v) => (v == null ? null : String(v)),
    write: same,
  }),
  number: (column: string): Column<number> => ({ column, read: num, write: same }),
  numberOrNull: (column: string): Column<number | null> => ({ column, read: numOrNull, write: same }),
  /** A closed set of strings, stored as they are. */
  oneOf: <T extends string>(column: string): Column<T> => ({
    column,
    read: (v) => String(v) as T,
    write: same,
  }),
  boolean: (column: string): Column<boolean> => ({
    column,
    read: (v) => v === true || v === 1 || v === '1',
    write: same,
  }),
  /** JSON stored as text, or NULL for null (a list that may be absent: "no limit"). */
  jsonOrNull: <T>(column: string): Column<T | null> => ({
    column,
    read: (v) => readJson<T | null>(v, null),
    write: (v) => (v === null ? null : JSON.stringify(v)),
  }),
  /** JSON stored as text (SQLite and MySQL alike); `fallback` for NULL or unreadable text. */
  json: <T>(column: string, fallback: T): Column<T> => ({
    column,
    read: (v) => readJson<T>(v, fallback),
    write: (v) => JSON.stringify(v),
  }),
};

type Columns<R> = { [K in keyof R]-?: Column<R[K]> };

/**
 * One table's columns, described once; the row ↔ record mapping is derived from it. `toRow`
 * writes only the fields given (an update of some fields), leaving the rest of the row alone.
 */
export class TableMap<R extends object> {
  private readonly entries: [keyof R & string, Column<unknown>][];

  constructor(columns: Columns<R>) {
    this.entries = Object.entries(columns) as [keyof R & string, Column<unknown>][];
  }

  toRecord(row: Record<string, unknown>): R {
    const out: Record<string, unknown> = {};
    for (const [field, c] of this.entries) out[field] = c.read(row[c.column]);
    return out as R;
  }

  toRow(values: Partial<R>): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const [field, c] of this.entries) {
      const v = values[field];
      if (v !== undefined) row[c.column] = c.write(v);
    }
    return row;
  }
}
