import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../errors/app.error.js';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { NotFoundError } from '../../errors/not-found.error.js';
import { PayloadTooLargeError } from '../../errors/payload-too-large.error.js';
import { ServiceUnavailableError } from '../../errors/service-unavailable.error.js';
import { isConnectionError } from '../../db/db-errors.js';

/** The OpenAI error body: `{"error":{"message","type","param","code"}}`, with the request id in the message. */
export function errorBody(err: AppError, requestId: string) {
  return {
    error: {
      message: `${err.message} (request id: ${requestId})`,
      type: err.type,
      param: err.param,
      code: err.code,
    },
  };
}

/** Turns anything thrown into an AppError a client may see; what is not an AppError hides its details. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  if (e?.type === 'entity.parse.failed') {
    return new BadRequestError(`Malformed JSON body: ${e.message ?? 'parse error'}`, {
      code: 'invalid_json',
    });
  }
  if (e?.type === 'entity.too.large') {
    return new PayloadTooLargeError(
      `The request body is larger than the ${e.limit ?? ''} bytes this gateway accepts (MAX_BODY)`,
    );
  }
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new BadRequestError(e.message ?? 'Unsupported body encoding', { code: 'unsupported_encoding' });
  }
  if (e?.type === 'request.aborted')
    return new BadRequestError('The client aborted the request body', { code: 'aborted' });
  if (isConnectionError(err)) {
    return new ServiceUnavailableError(
      'The database is unreachable; admin writes are not possible right now. Retry shortly.',
      {
        code: 'database_unavailable',
      },
    );
  }
  return new AppError(500, 'server_error', 'Internal error', { code: 'internal_error' });
}

/** The last middleware: logs (with the stack for unexpected errors) and answers in the OpenAI error shape. */
export function errorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const requestId = String(res.locals.requestId ?? '');
    const appErr = toAppError(err);
    if (appErr.status >= 500 && !(err instanceof AppError)) {
      logger.error({ err, requestId }, 'unexpected error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(appErr.status).json(errorBody(appErr, requestId));
  };
}

/** 404 for any path nothing else answered. */
export function notFoundHandler() {
  return (req: Request, _res: Response, next: NextFunction) => {
    next(new NotFoundError(`Unknown route ${req.method} ${req.path}`, { code: 'unknown_url' }));
  };
}
