import { Router } from 'express';
import type { NodeStatus } from '../../cfg/node-status.js';
import type { Metrics } from '../../obs/metrics.js';

/** `/healthz` (alive), `/readyz` (synced and not shutting down), `/metrics`, `/api/status`: no auth. */
export function systemRoutes(status: NodeStatus, metrics: Metrics): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const ready = status.ready;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready' });
  });
  router.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });
  router.get('/api/status', async (_req, res) => {
    res.json(await status.report());
  });
  return router;
}
