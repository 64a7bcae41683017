import express, { Router, type Request, type Response } from 'express';
import type { QuotaLedger } from '../../billing/quota-ledger.js';
import type { RoutingIndex } from '../../cfg/routing-index.js';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { NotFoundError } from '../../errors/not-found.error.js';
import { ServiceUnavailableError } from '../../errors/service-unavailable.error.js';
import type { Endpoint } from '../../relay/adapters/provider-adapter.js';
import { bearerKey, type RelayAuth, type RelayCaller } from '../../relay/relay-auth.js';
import type { RelayLogFields, RelayService } from '../../relay/relay.service.js';
import { checkModelAllowed, modelAllowed } from '../../relay/token-check.js';

export interface RelayRouteDeps {
  auth: RelayAuth;
  relay: RelayService;
  quota: QuotaLedger;
  routing: () => RoutingIndex;
  maxBodyBytes: number;
  startedAt: number;
  /** False until the first config sync ends, and again once shutdown starts. */
  ready: () => boolean;
}

const STARTED_SECONDS = () => Math.floor(Date.now() / 1000);

/** The OpenAI-compatible surface: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`. */
export function relayRoutes(deps: RelayRouteDeps): Router {
  const router = Router();
  router.use((_req, _res, next) => {
    if (!deps.ready()) {
      next(new ServiceUnavailableError('The gateway is not ready (starting up or shutting down); retry shortly', { code: 'not_ready' }));
    } else next();
  });
  const json = express.json({ limit: deps.maxBodyBytes, type: ['application/json', 'application/*+json'] });
  const created = Math.floor(deps.startedAt / 1000) || STARTED_SECONDS();

  const caller = async (req: Request, res: Response): Promise<RelayCaller> => {
    const found = await deps.auth.authenticate(bearerKey(req.headers.authorization, header(req, 'x-api-key')), req.ip ?? '');
    const log = res.locals.relay as RelayLogFields;
    log.tokenId = found.token.id;
    log.userId = found.user.id;
    return found;
  };

  const relayTo = (endpoint: Endpoint) => async (req: Request, res: Response) => {
    // Authenticate before looking at the body, so an unknown key never learns anything about it.
    const who = await caller(req, res);
    const body = requireModelBody(req.body);
    const log = res.locals.relay as RelayLogFields;
    log.model = body.model;
    log.stream = body.stream === true;
    checkModelAllowed(who.token, body.model);
    await deps.quota.check(who.token.id);
    await deps.relay.relay({ requestId: String(res.locals.requestId), endpoint, body, caller: who, res, log });
  };

  router.post('/chat/completions', json, relayTo('chat'));
  router.post('/completions', json, relayTo('completions'));
  router.post('/embeddings', json, relayTo('embeddings'));

  router.get('/models', async (req, res) => {
    const who = await caller(req, res);
    const data = deps
      .routing()
      .models(who.token.group)
      .filter((m) => modelAllowed(who.token, m))
      .map((id) => ({ id, object: 'model', created, owned_by: 'switchyard' }));
    res.json({ object: 'list', data });
  });

  router.get('/models/:model', async (req, res) => {
    const who = await caller(req, res);
    const id = String(req.params.model);
    const known = modelAllowed(who.token, id) && deps.routing().tiers(who.token.group, id).length > 0;
    if (!known) throw new NotFoundError(`The model ${id} does not exist or you do not have access to it`, { param: 'model', code: 'model_not_found' });
    res.json({ id, object: 'model', created, owned_by: 'switchyard' });
  });

  return router;
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function requireModelBody(body: unknown): Record<string, unknown> & { model: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('Send a JSON object body with Content-Type: application/json', { code: 'invalid_body' });
  }
  const model = (body as { model?: unknown }).model;
  if (typeof model !== 'string' || model.trim() === '') {
    throw new BadRequestError('model: required, the name of a model (a string)', { param: 'model', code: 'invalid_value' });
  }
  const stream = (body as { stream?: unknown }).stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw new BadRequestError('stream: must be true or false', { param: 'stream', code: 'invalid_value' });
  }
  return body as Record<string, unknown> & { model: string };
}
