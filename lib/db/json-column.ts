/** Reads a JSON text column (SQLite and MySQL store these as TEXT), tolerating a driver that already parsed it. */
export function readJson<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  if (typeof value !== 'string') return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

/** Converts a bigint/number/string column value to a number (MySQL returns BIGINT as a string past 2^53). */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Same as {@link num} but keeps null. */
export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}
