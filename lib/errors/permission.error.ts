import { AppError, type AppErrorOptions } from './app.error.js';

/** The caller is known but may not do this (model not allowed, IP outside the token's subnets, role too low). */
export class PermissionError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(403, 'permission_error', message, { code: 'permission_denied', ...options });
  }
}
