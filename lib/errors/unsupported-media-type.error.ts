import { AppError, type AppErrorOptions } from './app.error.js';

/** A request body in a type or encoding the gateway does not read (it reads plain JSON). */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(415, 'invalid_request_error', message, { code: 'unsupported_media_type', ...options });
  }
}
