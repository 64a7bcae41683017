import { AppError, type AppErrorOptions } from './app.error.js';

/** A setting that cannot work; raised at start-up, before any request. */
export class ConfigError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(500, 'config_error', message, { code: 'invalid_config', ...options });
  }
}
