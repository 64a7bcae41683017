import { AppError, type AppErrorOptions } from './app.error.js';

/** An Idempotency-Key sent again with another call (another path or body) than the first. */
export class IdempotencyKeyReusedError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(422, 'invalid_request_error', message, { code: 'idempotency_key_reused', ...options });
  }
}
