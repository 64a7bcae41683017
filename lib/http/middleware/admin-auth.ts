import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../../admin/actor.js';
import type { AdminAuthService } from '../../admin/admin-auth.service.js';
import { bearerKey } from '../../relay/relay-auth.js';

/** Requires an admin API token; puts the caller in `res.locals.actor`. */
export function adminAuth(auth: AdminAuthService) {
  return async (req: Request, res: Response, next: NextFunction) => {
    res.locals.actor = await auth.authenticate(bearerKey(req.headers.authorization));
    next();
  };
}

export function actorOf(res: Response): Actor {
  return res.locals.actor as Actor;
}
