import { AppError, type AppErrorOptions } from './app.error.js';

/**
 * The database did not answer a statement, or finish a transaction, within its limit
 * (DB_STATEMENT_TIMEOUT, DB_TRANSACTION_TIMEOUT). The connection was dropped and the transaction
 * rolled back; only a COMMIT already on its way when the limit passed can still land, which is
 * why money-moving admin calls take an Idempotency-Key.
 */
export class DatabaseTimeoutError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(503, 'service_unavailable_error', message, { code: 'database_timeout', ...options });
  }
}
