import { Router, type Request, type Response } from 'express';
import { loginSchema } from '../../admin/auth.schemas.js';
import { QUOTA_PER_USD } from '../../billing/price-book.js';
import type { NodeRole } from '../../cfg/node-status.js';
import { parseInput } from '../../admin/validation.js';
import type { LoginService } from '../../auth/login.service.js';
import { sameCsrfToken, type SessionService } from '../../auth/session.service.js';
import type { UserRecord, UserRepository } from '../../db/repositories/user.repository.js';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { CsrfError } from '../../errors/csrf.error.js';
import { NotFoundError } from '../../errors/not-found.error.js';
import { actorOf, sessionOf } from '../middleware/admin-auth.js';
import { clearSessionCookie, sessionCookieOf, setSessionCookie } from '../session-cookie.js';

/** The user as the console's sign-in answers show it. */
export function authUserView(u: UserRecord) {
  return { id: u.id, username: u.username, role: u.role, group: u.group };
}

/**
 * `POST /api/auth/login` and `POST /api/auth/logout`: mounted before authentication (and before a
 * replica's read-only rule: sessions are not config, so every node signs users in and out).
 */
export function publicAuthRoutes(login: LoginService, sessions: SessionService): Router {
  const router = Router();
  router.post('/login', async (req, res) => {
    // A JSON body only: a cross-site HTML form cannot send one, so it cannot sign a browser in.
    if (!req.is('application/json'))
      throw new BadRequestError('Send the sign-in as a JSON body (content-type: application/json)', {
        code: 'invalid_content_type',
      });
    const input = parseInput(loginSchema, req.body ?? {});
    const { user, cookie, session } = await login.login(input, {
      ip: req.ip ?? 'unknown',
      userAgent: req.get('user-agent'),
    });
    setSessionCookie(req, res, cookie, sessions.maxAgeMs);
    res.setHeader('cache-control', 'no-store');
    res.json({ user: authUserView(user), csrf_token: session.csrfToken });
  });
  router.post('/logout', async (req, res) => {
    const cookie = sessionCookieOf(req);
    const found = cookie ? await sessions.resolve(cookie) : undefined;
    if (found) {
      if (!sameCsrfToken(found.session, req.get('x-csrf-token')))
        throw new CsrfError("Missing or wrong x-csrf-token header: sign-out needs the session's csrf_token");
      await sessions.revoke(found.session.id);
    }
    clearSessionCookie(req, res);
    res.status(204).end();
  });
  return router;
}

/**
 * `GET /api/auth/me`: the caller and, for a console session, its CSRF token (null for a bearer
 * token); also what the console shows around it: this node's role, where writes go on a
 * replica, and the quota units in a dollar.
 */
export function authRoutes(
  users: UserRepository,
  node: { role: NodeRole; masterUrl: string | undefined },
): Router {
  const router = Router();
  router.get('/me', async (_req: Request, res: Response) => {
    const actor = actorOf(res);
    const user = await users.findById(actor.userId);
    if (!user) throw new NotFoundError(`No user with id ${actor.userId}`);
    res.setHeader('cache-control', 'no-store');
    res.json({
      user: { ...authUserView(user), quota: user.quota, used_quota: user.usedQuota, status: user.status },
      csrf_token: sessionOf(res)?.csrfToken ?? null,
      node: { role: node.role, master_url: node.role === 'slave' ? (node.masterUrl ?? null) : null },
      quota_per_usd: QUOTA_PER_USD,
    });
  });
  return router;
}
