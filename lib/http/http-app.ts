import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { AdminAuthService } from '../admin/admin-auth.service.js';
import type { ChannelService } from '../admin/channel.service.js';
import type { TokenService } from '../admin/token.service.js';
import type { UserService } from '../admin/user.service.js';
import type { NodeStatus } from '../cfg/node-status.js';
import type { Metrics } from '../obs/metrics.js';
import { accessLog } from './middleware/access-log.js';
import { adminAuth } from './middleware/admin-auth.js';
import { errorHandler, notFoundHandler } from './middleware/error-handler.js';
import { requestId } from './middleware/request-id.js';
import { channelRoutes } from './routes/channel.routes.js';
import { systemRoutes } from './routes/system.routes.js';
import { tokenRoutes } from './routes/token.routes.js';
import { userRoutes } from './routes/user.routes.js';

export interface HttpAppDeps {
  logger: Logger;
  metrics: Metrics;
  status: NodeStatus;
  adminAuth: AdminAuthService;
  channels: ChannelService;
  tokens: TokenService;
  users: UserService;
  trustProxy: boolean | number | string;
}

/** The express app: system routes and the admin API under /api. The relay (/v1) is RelayHttpHandler. */
export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.set('etag', false);
  app.use(requestId());
  app.use(accessLog(deps.logger.child({ component: 'http' }), deps.metrics));

  app.use(systemRoutes(deps.status, deps.metrics));

  const api = express.Router();
  api.use(express.json({ limit: '1mb' }));
  api.use(adminAuth(deps.adminAuth));
  api.use('/channels', channelRoutes(deps.channels));
  api.use('/tokens', tokenRoutes(deps.tokens));
  api.use('/users', userRoutes(deps.users));
  app.use('/api', api);

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger.child({ component: 'http' })));
  return app;
}
