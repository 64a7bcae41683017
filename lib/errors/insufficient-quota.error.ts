import { AppError, type AppErrorOptions } from './app.error.js';

/** The token has no quota left. */
export class InsufficientQuotaError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(429, 'insufficient_quota', message, { code: 'insufficient_quota', ...options });
  }
}
