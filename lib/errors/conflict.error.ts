import { AppError, type AppErrorOptions } from './app.error.js';

/** A write that would break a unique rule (a duplicate name). */
export class ConflictError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(409, 'invalid_request_error', message, { code: 'conflict', ...options });
  }
}
