import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../../obs/metrics.js';
import type { RelayLogFields } from '../../relay/relay-request.js';

/**
 * Logs one line and counts one metric when an answer ends: method, route, status, latency,
 * and for relay requests the token id (never the key), user, model and channel. `route` is
 * read at the end, so a handler may name it once it knows it.
 */
export function observeRequest(
  logger: Logger,
  metrics: Metrics,
  req: IncomingMessage,
  res: ServerResponse,
  route: () => string,
  requestId: string,
  relay?: RelayLogFields,
): void {
  const started = process.hrtime.bigint();
  res.once('close', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const name = route();
    const status = res.headersSent ? res.statusCode : 499;
    metrics.httpRequests.inc({ route: name, status: String(status) });
    if (relay) metrics.relayDuration.observe({ route: name, status: String(status) }, ms / 1000);
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        requestId,
        method: req.method,
        route: name,
        status,
        ms: Math.round(ms * 10) / 10,
        ...relay,
        aborted: !res.writableFinished || undefined,
      },
      'request',
    );
  });
}

/** The express form of {@link observeRequest}, for the admin and system routes. */
export function accessLog(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    observeRequest(logger, metrics, req, res, () => routeLabel(req), String(res.locals.requestId));
    next();
  };
}

/** The matched route pattern (bounded label set for metrics), or a fixed label for unmatched paths. */
function routeLabel(req: Request): string {
  const path = (req.route as { path?: string } | undefined)?.path;
  if (typeof path === 'string') return req.baseUrl + path;
  return 'unmatched';
}
