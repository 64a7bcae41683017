import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id (the client's `x-request-id` when sane, else a new UUID), echoed in the answer. */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

/** The express form of {@link assignRequestId}. */
export function requestId() {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.requestId = assignRequestId(req, res);
    next();
  };
}

/** The request id {@link requestId} gave an express request. */
export function requestIdOf(res: Response): string {
  return String(res.locals.requestId ?? '');
}
