import { Router } from 'express';
import {
  createAccessTokenSchema,
  createUserSchema,
  listUsersSchema,
  updateUserSchema,
  USER_READ_ONLY,
} from '../../admin/user.schemas.js';
import type { UserService } from '../../admin/user.service.js';
import { quotaAdjustSchema } from '../../admin/billing.schemas.js';
import { idParam, parseInput, withoutReadOnly } from '../../admin/validation.js';
import { setPasswordSchema } from '../../admin/auth.schemas.js';
import type { SessionService } from '../../auth/session.service.js';
import { actorOf, sessionOf } from '../middleware/admin-auth.js';
import { requestIdOf } from '../middleware/request-id.js';
import { setSessionCookie } from '../session-cookie.js';
import { answerIdempotent } from './idempotent-answer.js';

/** `/api/users` and each user's admin access tokens and password. */
export function userRoutes(users: UserService, sessions: SessionService): Router {
  const router = Router();
  router.put('/:id/password', async (req, res) => {
    const id = parseInput(idParam, req.params.id);
    const input = parseInput(setPasswordSchema, req.body ?? {});
    const actor = actorOf(res);
    const { sessionsRevoked } = await users.setPassword(actor, id, input);
    // Every session of the user ended; a user who changed its own in the console gets a new one.
    let csrfToken: string | null = null;
    const current = sessionOf(res);
    if (current && id === actor.userId) {
      const issued = await sessions.create(id, 'password', {
        ip: req.ip,
        userAgent: req.get('user-agent'),
      });
      setSessionCookie(req, res, issued.cookie, sessions.maxAgeMs);
      csrfToken = issued.session.csrfToken;
    }
    res.json({ data: { user_id: id, sessions_revoked: sessionsRevoked }, csrf_token: csrfToken });
  });
  router.get('/', async (req, res) => {
    res.json(await users.list(actorOf(res), parseInput(listUsersSchema, req.query)));
  });
  router.post('/', async (req, res) => {
    res
      .status(201)
      .json({ data: await users.create(actorOf(res), parseInput(createUserSchema, req.body ?? {})) });
  });
  router.get('/me', async (_req, res) => {
    res.json({ data: await users.get(actorOf(res), actorOf(res).userId) });
  });
  router.get('/:id', async (req, res) => {
    res.json({ data: await users.get(actorOf(res), parseInput(idParam, req.params.id)) });
  });
  router.patch('/:id', async (req, res) => {
    const input = parseInput(updateUserSchema, withoutReadOnly(req.body ?? {}, USER_READ_ONLY));
    await answerIdempotent(req, res, (claim) =>
      users.update(actorOf(res), parseInput(idParam, req.params.id), input, requestIdOf(res), claim),
    );
  });
  router.post('/:id/quota', async (req, res) => {
    const input = parseInput(quotaAdjustSchema, req.body ?? {});
    const id = parseInput(idParam, req.params.id);
    await answerIdempotent(req, res, (claim) =>
      users.adjustQuota(actorOf(res), id, input.delta, input.note, requestIdOf(res), claim),
    );
  });
  router.delete('/:id', async (req, res) => {
    await users.delete(actorOf(res), parseInput(idParam, req.params.id));
    res.status(204).end();
  });
  router.get('/:id/access-tokens', async (req, res) => {
    res.json(await users.listAccessTokens(actorOf(res), parseInput(idParam, req.params.id)));
  });
  router.post('/:id/access-tokens', async (req, res) => {
    const { name } = parseInput(createAccessTokenSchema, req.body ?? {});
    res
      .status(201)
      .json({ data: await users.createAccessToken(actorOf(res), parseInput(idParam, req.params.id), name) });
  });
  router.delete('/:id/access-tokens/:tokenId', async (req, res) => {
    await users.deleteAccessToken(
      actorOf(res),
      parseInput(idParam, req.params.id),
      parseInput(idParam, req.params.tokenId),
    );
    res.status(204).end();
  });
  return router;
}
