import { AppError, type AppErrorOptions } from './app.error.js';

/** A rate limit (requests or tokens per minute) refused the request; OpenAI's shape and headers. */
export class RateLimitError extends AppError {
  constructor(kind: 'requests' | 'tokens', message: string, options: AppErrorOptions = {}) {
    super(429, kind, message, { code: 'rate_limit_exceeded', ...options });
  }
}
