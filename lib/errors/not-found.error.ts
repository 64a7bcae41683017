import { AppError, type AppErrorOptions } from './app.error.js';

/** The addressed entity (or model) does not exist. */
export class NotFoundError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(404, 'invalid_request_error', message, { code: 'not_found', ...options });
  }
}
