import { AppError, type AppErrorOptions } from './app.error.js';

/** No key, an unknown key, or a key that is disabled or expired. */
export class AuthenticationError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(401, 'invalid_request_error', message, { code: 'invalid_api_key', ...options });
  }
}
