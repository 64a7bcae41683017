import { AppError, type AppErrorOptions } from './app.error.js';

/** A cookie-authenticated write without the session's CSRF token in `x-csrf-token`. */
export class CsrfError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(403, 'permission_error', message, { code: 'csrf_failed', ...options });
  }
}
