import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { AdminAuthService } from '../admin/admin-auth.service.js';
import type { LoginService } from '../auth/login.service.js';
import type { SessionService } from '../auth/session.service.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import type { ChannelService } from '../admin/channel.service.js';
import type { ChannelHealthService } from '../admin/channel-health.service.js';
import type { PricingService } from '../admin/pricing.service.js';
import type { UsageService } from '../admin/usage.service.js';
import type { TokenService } from '../admin/token.service.js';
import type { UserService } from '../admin/user.service.js';
import type { NodeStatus } from '../cfg/node-status.js';
import type { Metrics } from '../obs/metrics.js';
import { jsonBodyParser } from './json-body.js';
import { accessLog } from './middleware/access-log.js';
import { consoleStatic } from './console-static.js';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { requireRole } from '../admin/actor.js';
import { parseInput } from '../admin/validation.js';
import type { NodeRole } from '../cfg/node-status.js';
import { ReplicaReadOnlyError } from '../errors/replica-read-only.error.js';
import { actorOf, adminAuth } from './middleware/admin-auth.js';
import { errorHandler, notFoundHandler } from './middleware/error-handler.js';
import { ipRateLimit, type HitCounter } from './middleware/ip-rate-limit.js';
import { requestId } from './middleware/request-id.js';
import { billingRoutes } from './routes/billing.routes.js';
import { channelRoutes } from './routes/channel.routes.js';
import { systemRoutes } from './routes/system.routes.js';
import { tokenRoutes } from './routes/token.routes.js';
import { userRoutes } from './routes/user.routes.js';
import { authRoutes, publicAuthRoutes } from './routes/auth.routes.js';

export interface HttpAppDeps {
  logger: Logger;
  metrics: Metrics;
  status: NodeStatus;
  adminAuth: AdminAuthService;
  sessions: SessionService;
  login: LoginService;
  userRecords: UserRepository;
  channels: ChannelService;
  channelHealth: ChannelHealthService;
  tokens: TokenService;
  users: UserService;
  pricing: PricingService;
  usage: UsageService;
  /** Counts admin API requests per client IP; `adminRateLimit` per minute (0: off). */
  hits: HitCounter;
  adminRateLimit: number;
  /** MAX_ADMIN_BODY and MAX_JSON_DEPTH for admin API bodies. */
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** METRICS_TOKEN: /metrics requires it when set. */
  metricsToken?: string;
  trustProxy: boolean | number | string;
  role: NodeRole;
  masterUrl: string | undefined;
  /** Tests: the built console's folder (default: web/dist in the package). */
  consoleDir?: string;
  /** BullMQ queues shown in bull-board at /admin/queues (cluster mode). */
  queues: Queue[];
}

/** The express app: system routes and the admin API under /api. The relay (/v1) is RelayHttpHandler. */
export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.set('etag', false);
  app.use(requestId());
  app.use(accessLog(deps.logger.child({ component: 'http' }), deps.metrics));

  app.use(systemRoutes(deps.status, deps.metrics, deps.metricsToken));

  const limitAdmin = ipRateLimit(deps.hits, deps.adminRateLimit);
  if (deps.queues.length > 0) {
    const board = new ExpressAdapter();
    board.setBasePath('/admin/queues');
    createBullBoard({ queues: deps.queues.map((q) => new BullMQAdapter(q)), serverAdapter: board });
    app.use(
      '/admin/queues',
      limitAdmin,
      adminAuth(deps.adminAuth, deps.sessions, { basicChallenge: true }),
      (_req, res, next) => {
        requireRole(actorOf(res), 'admin');
        next();
      },
    );
    app.use('/admin/queues', board.getRouter() as express.Router);
  }

  const api = express.Router();
  api.use(limitAdmin);
  const readBody = jsonBodyParser({
    maxBytes: deps.maxBodyBytes,
    maxDepth: deps.maxJsonDepth,
    limitName: 'MAX_ADMIN_BODY',
  });
  // Signing in is the one write before authentication: its body is read (bounded) here.
  api.use('/auth', readBody, publicAuthRoutes(deps.login, deps.sessions));
  if (deps.role === 'slave') {
    // Replicas serve admin reads; every write goes to the master. Refused before the credential
    // is checked, so the answer never waits on (or fails with) the database.
    api.use((req, _res, next) => {
      if (req.method === 'GET' || req.method === 'HEAD') next();
      else next(new ReplicaReadOnlyError(deps.masterUrl));
    });
  }
  // Everything else authenticates before reading a byte of the body: an unknown caller costs no parsing.
  api.use(adminAuth(deps.adminAuth, deps.sessions));
  api.use(readBody);
  api.use('/auth', authRoutes(deps.userRecords, { role: deps.role, masterUrl: deps.masterUrl }));
  api.get('/cluster', async (_req, res) => {
    requireRole(actorOf(res), 'admin');
    res.json(await deps.status.clusterReport());
  });
  api.get('/cluster/changes', async (req, res) => {
    requireRole(actorOf(res), 'admin');
    const limit = parseInput(z.coerce.number().int().min(1).max(1000).default(50), req.query.limit);
    res.json({ data: await deps.status.recentChanges(limit) });
  });
  api.get('/cluster/applies', async (req, res) => {
    requireRole(actorOf(res), 'admin');
    const after = parseInput(z.coerce.number().int().min(0).default(0), req.query.after);
    res.json({ data: deps.status.appliesAfter(after) });
  });
  api.use('/channels', channelRoutes(deps.channels, deps.channelHealth));
  api.use('/tokens', tokenRoutes(deps.tokens));
  api.use('/users', userRoutes(deps.users, deps.sessions));
  api.use(billingRoutes(deps.pricing, deps.usage));
  app.use('/api', api);
  app.use(consoleStatic(deps.consoleDir));

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger.child({ component: 'http' })));
  return app;
}
