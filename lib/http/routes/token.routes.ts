import { Router } from 'express';
import {
  createTokenSchema,
  listTokensSchema,
  TOKEN_READ_ONLY,
  updateTokenSchema,
} from '../../admin/token.schemas.js';
import type { TokenService } from '../../admin/token.service.js';
import { quotaAdjustSchema } from '../../admin/billing.schemas.js';
import { idParam, parseInput, withoutReadOnly } from '../../admin/validation.js';
import { actorOf } from '../middleware/admin-auth.js';
import { answerIdempotent } from './idempotent-answer.js';
import { requestIdOf } from '../middleware/request-id.js';

/** `/api/tokens`: admins see every token, users their own. */
export function tokenRoutes(tokens: TokenService): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    res.json(await tokens.list(actorOf(res), parseInput(listTokensSchema, req.query)));
  });
  router.post('/', async (req, res) => {
    res
      .status(201)
      .json({ data: await tokens.create(actorOf(res), parseInput(createTokenSchema, req.body ?? {})) });
  });
  router.get('/:id', async (req, res) => {
    res.json({ data: await tokens.get(actorOf(res), parseInput(idParam, req.params.id)) });
  });
  router.patch('/:id', async (req, res) => {
    const input = parseInput(updateTokenSchema, withoutReadOnly(req.body ?? {}, TOKEN_READ_ONLY));
    await answerIdempotent(req, res, (claim) =>
      tokens.update(actorOf(res), parseInput(idParam, req.params.id), input, requestIdOf(res), claim),
    );
  });
  router.post('/:id/quota', async (req, res) => {
    const input = parseInput(quotaAdjustSchema, req.body ?? {});
    const id = parseInput(idParam, req.params.id);
    await answerIdempotent(req, res, (claim) =>
      tokens.adjustQuota(actorOf(res), id, input.delta, input.note, requestIdOf(res), claim),
    );
  });
  router.delete('/:id', async (req, res) => {
    await tokens.delete(actorOf(res), parseInput(idParam, req.params.id));
    res.status(204).end();
  });
  return router;
}
