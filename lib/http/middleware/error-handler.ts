import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../../errors/app.error.js';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { NotFoundError } from '../../errors/not-found.error.js';
import { PayloadTooLargeError } from '../../errors/payload-too-large.error.js';
import { ServiceUnavailableError } from '../../errors/service-unavailable.error.js';
import { isConnectionError } from '../../db/db-errors.js';
import { closeIfBodyUnread } from '../json-body.js';

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

/** What a request that failed on the database was: its 503 says what could not be done. */
export type DbContext = 'relay' | 'admin-read' | 'admin-write';

const DATABASE_DOWN: Record<DbContext, string> = {
  relay:
    'The database is unreachable or did not answer in time, and this request needs it (an API key or balance this node has not loaded yet). Retry shortly.',
  'admin-read': 'The database is unreachable or did not answer in time; admin reads need it. Retry shortly.',
  'admin-write':
    'The database is unreachable or did not answer in time; this admin change was not made. Retry shortly (money-moving calls with the same Idempotency-Key).',
};

/**
 * Turns anything thrown into an AppError a client may see; what is not an AppError hides its
 * details. `context` words the 503 of a database that cannot be reached.
 */
export function toAppError(err: unknown, context: DbContext = 'admin-write'): AppError {
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
  if (err instanceof URIError) {
    return new BadRequestError('The URL has a malformed percent-encoding (%XX)', { code: 'invalid_url' });
  }
  if (e?.type === 'request.aborted')
    return new BadRequestError('The client aborted the request body', { code: 'aborted' });
  if (isConnectionError(err)) {
    return new ServiceUnavailableError(DATABASE_DOWN[context], { code: 'database_unavailable' });
  }
  return new AppError(500, 'server_error', 'Internal error', { code: 'internal_error' });
}

/** Writes a JSON answer with node's own response API (used where express is not). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * Answers a failed request: logs unexpected errors (with the stack), ends an answer already
 * under way, otherwise sends the OpenAI error shape. Shared by express and the relay handler.
 */
export function answerError(
  res: ServerResponse,
  err: unknown,
  requestId: string,
  logger: Logger,
  /** The error body in another client format (Anthropic's, for `/v1/messages`); OpenAI's by default. */
  shape?: (e: { status: number; type: string; code: string | null; message: string }) => unknown,
  /** Admin calls say so; the relay handler leaves the default. */
  context: DbContext = 'relay',
): void {
  const appErr = toAppError(err, context);
  if (appErr.status >= 500 && !(err instanceof AppError)) {
    logger.error({ err, requestId }, 'unexpected error');
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [name, value] of Object.entries(appErr.headers)) res.setHeader(name, value);
  const body = errorBody(appErr, requestId);
  sendJson(res, appErr.status, shape ? shape({ status: appErr.status, ...body.error }) : body);
}

/** The last middleware: see {@link answerError}. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    closeIfBodyUnread(res);
    const context = req.method === 'GET' || req.method === 'HEAD' ? 'admin-read' : 'admin-write';
    answerError(res, err, String(res.locals.requestId ?? ''), logger, undefined, context);
  };
}

/** 404 for any path nothing else answered. */
export function notFoundHandler() {
  return (req: Request, _res: Response, next: NextFunction) => {
    next(new NotFoundError(`Unknown route ${req.method} ${req.path}`, { code: 'unknown_url' }));
  };
}
