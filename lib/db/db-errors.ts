/** True when a driver error is a unique-key violation (MySQL ER_DUP_ENTRY, SQLite UNIQUE or PRIMARY KEY). */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; errno?: unknown };
  return (
    e.code === 'ER_DUP_ENTRY' ||
    e.errno === 1062 ||
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * True when a driver error means the database cannot be reached or did not answer in time
 * (connection refused, lost, pool timeout, a statement past DB_STATEMENT_TIMEOUT: the client's
 * own limit, MariaDB's max_statement_time (1969), MySQL's max_execution_time (3024), a lock wait).
 */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; name?: unknown; fatal?: unknown; errno?: unknown };
  return (
    e.code === 'DB_STATEMENT_TIMEOUT' ||
    e.errno === 1969 ||
    e.errno === 3024 ||
    e.code === 'ER_LOCK_WAIT_TIMEOUT' ||
    e.code === 'ECONNREFUSED' ||
    e.code === 'PROTOCOL_CONNECTION_LOST' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'ECONNRESET' ||
    e.name === 'KnexTimeoutError' ||
    e.fatal === true
  );
}

/**
 * True when the database refused a row for its data (SQLSTATE class 22: too long, out of
 * range, invalid value): writing it again will fail again, unlike a lost connection or a lock.
 */
export function isDataError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const state = (err as { sqlState?: unknown }).sqlState;
  return typeof state === 'string' && state.startsWith('22');
}
