import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../../admin/actor.js';
import type { AdminAuthService } from '../../admin/admin-auth.service.js';
import { sameCsrfToken, type SessionService } from '../../auth/session.service.js';
import type { SessionRecord } from '../../db/repositories/session.repository.js';
import { AuthenticationError } from '../../errors/authentication.error.js';
import { CsrfError } from '../../errors/csrf.error.js';
import { bearerKey } from '../../relay/relay-auth.js';
import { sessionCookieOf } from '../session-cookie.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates an admin API call; puts the caller in `res.locals.actor`. Either credential works:
 * - `Authorization: Bearer <admin token>` (scripts, as always; no CSRF token needed), or
 * - the console's session cookie, when there is no Authorization header; then every request
 *   other than GET/HEAD/OPTIONS must carry the session's CSRF token in `x-csrf-token`.
 * With `basicChallenge` (pages a browser opens, like bull-board) HTTP Basic is accepted too, the
 * token as the password, and a failure asks the browser for it.
 */
export function adminAuth(
  auth: AdminAuthService,
  sessions: SessionService | undefined,
  opts: { basicChallenge?: boolean } = {},
) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const cookie = header || !sessions ? undefined : sessionCookieOf(req);
    try {
      if (cookie) {
        const found = await sessions!.resolve(cookie);
        if (!found)
          throw new AuthenticationError('Your console session has ended: sign in again', {
            code: 'session_expired',
          });
        if (!SAFE_METHODS.has(req.method) && !sameCsrfToken(found.session, req.get('x-csrf-token'))) {
          throw new CsrfError(
            'Missing or wrong x-csrf-token header: a console session must send the csrf_token it was given with each write',
          );
        }
        res.locals.session = found.session;
        res.locals.actor = {
          userId: found.user.id,
          username: found.user.username,
          role: found.user.role,
          group: found.user.group,
        } satisfies Actor;
        return next();
      }
      const basic = opts.basicChallenge && header ? /^Basic\s+(\S+)$/i.exec(header) : null;
      const token = basic
        ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':')
        : bearerKey(header);
      res.locals.actor = await auth.authenticate(token);
    } catch (err) {
      if (opts.basicChallenge && err instanceof AuthenticationError)
        res.setHeader('www-authenticate', 'Basic realm="Switchyard admin (password: an admin token)"');
      throw err;
    }
    next();
  };
}

export function actorOf(res: Response): Actor {
  return res.locals.actor as Actor;
}

/** The console session the request was authenticated by; undefined for a bearer token. */
export function sessionOf(res: Response): SessionRecord | undefined {
  return res.locals.session as SessionRecord | undefined;
}
