import { AppError, type AppErrorOptions } from './app.error.js';

/** The request body is larger than MAX_BODY. */
export class PayloadTooLargeError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(413, 'invalid_request_error', message, { code: 'payload_too_large', ...options });
  }
}
