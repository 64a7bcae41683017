import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../../obs/metrics.js';
import type { RelayLogFields } from '../../relay/relay.service.js';

/**
 * One log line and one metric per request, when the answer ends: method, route, status,
 * latency, and for relay requests the token id (never the key), user, model and channel.
 */
export function accessLog(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const relay: RelayLogFields = {};
    res.locals.relay = relay;
    res.once('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = routeLabel(req);
      const status = res.headersSent ? res.statusCode : 499;
      metrics.httpRequests.inc({ route, status: String(status) });
      if (route.startsWith('/v1/')) metrics.relayDuration.observe({ route, status: String(status) }, ms / 1000);
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          requestId: res.locals.requestId as string,
          method: req.method,
          route,
          status,
          ms: Math.round(ms * 10) / 10,
          ...relay,
          aborted: !res.writableFinished || undefined,
        },
        'request',
      );
    });
    next();
  };
}

/** The matched route pattern (bounded label set for metrics), or a fixed label for unmatched paths. */
function routeLabel(req: Request): string {
  const path = (req.route as { path?: string } | undefined)?.path;
  if (typeof path === 'string') return req.baseUrl + path;
  return 'unmatched';
}
