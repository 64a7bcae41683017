import { AppError, type AppErrorOptions } from './app.error.js';

/** The gateway cannot serve this now (database down, shutting down); retrying later may work. */
export class ServiceUnavailableError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(503, 'service_unavailable_error', message, { code: 'service_unavailable', ...options });
  }
}
