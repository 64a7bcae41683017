import { AppError, type AppErrorOptions } from './app.error.js';

/**
 * The upstream failed and no retry was left (or the failure may not be retried). `status` is the
 * upstream's own status for an answer it gave, 502 for a broken connection, 504 for a timeout.
 */
export class UpstreamError extends AppError {
  constructor(status: number, message: string, options: AppErrorOptions = {}) {
    super(
      status,
      status === 429 ? 'rate_limit_error' : status < 500 ? 'invalid_request_error' : 'upstream_error',
      message,
      {
        code: 'upstream_error',
        ...options,
      },
    );
  }
}
