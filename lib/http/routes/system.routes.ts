import { Router } from 'express';
import type { NodeStatus } from '../../cfg/node-status.js';
import { AuthenticationError } from '../../errors/authentication.error.js';
import type { Metrics } from '../../obs/metrics.js';
import { bearerKey } from '../../relay/relay-auth.js';
import { hashKey, sameHash } from '../../security/keys.js';

/**
 * `/healthz` (alive), `/readyz` (synced and not shutting down), `/api/status`: no auth;
 * `/metrics`: behind `metricsToken` (METRICS_TOKEN) when one is set.
 */
export function systemRoutes(status: NodeStatus, metrics: Metrics, metricsToken?: string): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const ready = status.ready;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready' });
  });
  const metricsHash = metricsToken ? hashKey(metricsToken) : undefined;
  router.get('/metrics', async (req, res) => {
    if (metricsHash) {
      const given = bearerKey(req.headers.authorization);
      if (!given || !sameHash(hashKey(given), metricsHash)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        throw new AuthenticationError('Send "Authorization: Bearer <METRICS_TOKEN>" to read /metrics', {
          code: 'invalid_api_key',
        });
      }
    }
    res.setHeader('content-type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });
  router.get('/api/status', async (_req, res) => {
    res.json(await status.report());
  });
  return router;
}
