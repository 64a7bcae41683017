import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../../admin/actor.js';
import type { AdminAuthService } from '../../admin/admin-auth.service.js';
import { bearerKey } from '../../relay/relay-auth.js';

/**
 * Requires an admin API token (`Authorization: Bearer …`); puts the caller in `res.locals.actor`.
 * With `basicChallenge` (pages a browser opens, like bull-board) HTTP Basic is accepted too, the
 * token as the password, and a failure asks the browser for it.
 */
export function adminAuth(auth: AdminAuthService, opts: { basicChallenge?: boolean } = {}) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const basic = opts.basicChallenge && header ? /^Basic\s+(\S+)$/i.exec(header) : null;
    const token = basic
      ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':')
      : bearerKey(header);
    try {
      res.locals.actor = await auth.authenticate(token);
    } catch (err) {
      if (opts.basicChallenge)
        res.setHeader('www-authenticate', 'Basic realm="Switchyard admin (password: an admin token)"');
      throw err;
    }
    next();
  };
}

export function actorOf(res: Response): Actor {
  return res.locals.actor as Actor;
}
