import { AppError, type AppErrorOptions } from './app.error.js';

/** A request the client must change: bad JSON, a missing or invalid field (named in `param`). */
export class BadRequestError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(400, 'invalid_request_error', message, { code: null, ...options });
  }
}
