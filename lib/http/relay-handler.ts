import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import type { BillingService } from '../billing/billing.service.js';
import type { RoutingIndex } from '../cfg/routing-index.js';
import { AppError } from '../errors/app.error.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { NotFoundError } from '../errors/not-found.error.js';
import { ServiceUnavailableError } from '../errors/service-unavailable.error.js';
import type { Metrics } from '../obs/metrics.js';
import type { Endpoint } from '../relay/adapters/provider-adapter.js';
import { bearerKey, type RelayAuth, type RelayCaller } from '../relay/relay-auth.js';
import type { IngressEndpoint, IngressFormat } from '../relay/ingress/ingress-format.js';
import type { CountTokensService } from '../relay/count-tokens.service.js';
import { countTokensRequest, checkBody } from '../relay/ingress/messages.format.js';
import type { RelayLogFields, RelayOutcome, RelayRequest } from '../relay/relay-request.js';
import type { RelayService } from '../relay/relay.service.js';
import { checkModelAllowed, modelAllowed } from '../relay/token-check.js';
import { CorsPolicy } from './cors.js';
import { readJsonBody } from './json-body.js';
import { observeRequest } from './middleware/access-log.js';
import { closeIfBodyUnread } from './json-body.js';
import { answerError, sendJson } from './middleware/error-handler.js';
import { assignRequestId } from './middleware/request-id.js';

export interface RelayHandlerDeps {
  auth: RelayAuth;
  /** Client-facing formats other than OpenAI's (`/v1/messages`, `/v1/responses`); a route without one is 404. */
  ingress: ReadonlyMap<IngressEndpoint, IngressFormat>;
  relay: RelayService;
  /** `/v1/messages/count_tokens` (served with the `messages` format). */
  countTokens?: CountTokensService;
  billing: BillingService;
  routing: () => RoutingIndex;
  maxBodyBytes: number;
  maxJsonDepth: number;
  /** CORS_ORIGINS. */
  corsOrigins: string[];
  startedAt: number;
  /** False until the first config sync ends, and again once shutdown starts. */
  ready: () => boolean;
  trustProxy: boolean | number | string;
  logger: Logger;
  metrics: Metrics;
}

const RELAY_POSTS: Record<string, Endpoint> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
  '/v1/messages': 'messages',
  '/v1/responses': 'responses',
};

/**
 * The OpenAI-compatible surface (`/v1/...`) served straight from node:http, without express.
 * It carries nearly all the traffic, and express's per-request wrapping halved the throughput
 * of a minimal relay in our measurements (3.6k vs 7.4k req/s), so this path reads the body,
 * routes and answers errors itself. Everything else (admin API, status) stays on express.
 */
export class RelayHttpHandler {
  private readonly trust: (addr: string, i: number) => boolean;
  private readonly created: number;
  private readonly logger: Logger;
  private readonly cors: CorsPolicy;

  constructor(private readonly deps: RelayHandlerDeps) {
    this.cors = new CorsPolicy(deps.corsOrigins);
    this.trust = compileTrust(deps.trustProxy);
    this.created = Math.floor(deps.startedAt / 1000);
    this.logger = deps.logger.child({ component: 'http' });
  }

  /** True for the paths this handler serves. */
  handles(req: IncomingMessage): boolean {
    const url = req.url ?? '';
    return url.startsWith('/v1/') || url === '/v1';
  }

  /** Serves one request; the promise settles once its work (and its billing settlement) is done. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = assignRequestId(req, res);
    if (this.cors.preflight(req, res)) return Promise.resolve();
    this.cors.apply(req, res);
    const log: RelayLogFields = {};
    const path = (req.url ?? '').split('?', 1)[0]!;
    let route = 'unmatched';
    observeRequest(this.logger, this.deps.metrics, req, res, () => route, requestId, log);
    let endpoint = req.method === 'POST' ? RELAY_POSTS[path] : undefined;
    const counting = req.method === 'POST' && path === '/v1/messages/count_tokens';
    const ingressEndpoint: IngressEndpoint | undefined = counting
      ? 'messages'
      : endpoint === 'messages' || endpoint === 'responses'
        ? endpoint
        : undefined;
    const ingress = ingressEndpoint ? this.deps.ingress.get(ingressEndpoint) : undefined;
    if ((endpoint === 'messages' || endpoint === 'responses') && !ingress) endpoint = undefined;
    // Anthropic's clients read the request id from `request-id`.
    if (ingress?.endpoint === 'messages') res.setHeader('request-id', requestId);
    let work: Promise<void>;
    if (counting && ingress && this.deps.countTokens) {
      route = path;
      work = this.countTokens(req, res, this.deps.countTokens, log);
    } else if (endpoint) {
      route = path;
      work = this.relay(req, res, endpoint, requestId, log);
    } else if (req.method === 'GET' && path === '/v1/models') {
      route = path;
      work = this.listModels(req, res, log);
    } else if (req.method === 'GET' && path.startsWith('/v1/models/')) {
      route = '/v1/models/:model';
      work = this.getModel(req, res, safeDecode(path.slice('/v1/models/'.length)), log);
    } else if (path.startsWith('/v1/responses/') && this.deps.ingress.has('responses')) {
      route = '/v1/responses/:id';
      work = this.storedResponse(req, log);
    } else {
      work = Promise.reject(
        new NotFoundError(`Unknown route ${req.method} ${path}`, { code: 'unknown_url' }),
      );
    }
    return work.catch((err: unknown) => this.fail(res, err, requestId, ingress));
  }

  private async relay(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: Endpoint,
    requestId: string,
    log: RelayLogFields,
  ) {
    this.requireReady();
    // Authenticate before reading the body, so an unknown key never learns anything about it.
    const who = await this.caller(req, log);
    const { json, bytes } = await this.readJson(req);
    const body = requireModelBody(json);
    log.model = body.model;
    log.stream = body.stream === true;
    checkModelAllowed(who.token, body.model);
    const format =
      endpoint === 'messages' || endpoint === 'responses' ? this.deps.ingress.get(endpoint) : undefined;
    let ingress: RelayRequest['ingress'];
    if (format) {
      ingress = asClientError(() => {
        format.validate(body);
        return { format, chat: format.toChat(body), unbridgeable: format.bridgeProblem?.(body) };
      });
    }
    const relayed: RelayRequest = {
      requestId,
      endpoint,
      body,
      ingress,
      caller: who,
      headers: req.headers,
      res,
      log,
    };
    const billing = this.deps.billing;
    if (!billing.enabled) {
      const outcome = await this.deps.relay.relay(relayed);
      if (outcome.error) throw outcome.error;
      return;
    }
    const ticket = await billing.admit({
      requestId,
      caller: who,
      endpoint: ingress ? 'chat' : endpoint,
      body: ingress ? ingress.chat : body,
      bodyBytes: bytes,
    });
    for (const [name, value] of Object.entries(billing.rateLimitHeaders(ticket))) res.setHeader(name, value);
    let outcome: RelayOutcome | undefined;
    try {
      outcome = await this.deps.relay.relay({ ...relayed, startedAt: ticket.startedAt, billed: true });
    } finally {
      // A relay that threw (a bug, never an upstream's failure) settles as a 500 with nothing charged.
      const o = outcome ?? { status: 500, attempts: 0 };
      log.usage = billing.settle(ticket, {
        status: o.status,
        counts: o.counts,
        channelId: o.channelId,
        upstreamModel: o.upstreamModel,
        stream: log.stream === true,
        attempts: o.attempts,
        ttftMs: o.ttftMs,
      });
    }
    if (outcome.error) throw outcome.error;
  }

  /** `/v1/messages/count_tokens`: authenticated and checked like a request, neither limited nor billed (counting is free). */
  private async countTokens(
    req: IncomingMessage,
    res: ServerResponse,
    counter: CountTokensService,
    log: RelayLogFields,
  ) {
    this.requireReady();
    const who = await this.caller(req, log);
    const { json } = await this.readJson(req);
    const body = requireModelBody(json);
    log.model = body.model;
    checkModelAllowed(who.token, body.model);
    checkBody(countTokensRequest, body);
    const answer = await counter.count(who.token.group, body).catch((err: unknown) =>
      asClientError(() => {
        throw err;
      }),
    );
    if ('json' in answer) return sendJson(res, 200, answer.json);
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', answer.raw.length);
    res.end(answer.raw);
  }

  private async listModels(req: IncomingMessage, res: ServerResponse, log: RelayLogFields) {
    this.requireReady();
    const who = await this.caller(req, log);
    const data = this.deps
      .routing()
      .models(who.token.group)
      .filter((m) => modelAllowed(who.token, m))
      .map((id) => ({ id, object: 'model', created: this.created, owned_by: 'switchyard' }));
    sendJson(res, 200, { object: 'list', data });
  }

  private async getModel(req: IncomingMessage, res: ServerResponse, id: string, log: RelayLogFields) {
    this.requireReady();
    const who = await this.caller(req, log);
    const known = modelAllowed(who.token, id) && this.deps.routing().tiers(who.token.group, id).length > 0;
    if (!known) {
      const shown = id.length > MAX_MODEL_NAME ? `${id.slice(0, MAX_MODEL_NAME)}…` : id;
      throw new NotFoundError(`The model ${shown} does not exist or you do not have access to it`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    sendJson(res, 200, { id, object: 'model', created: this.created, owned_by: 'switchyard' });
  }

  /**
   * `GET`/`DELETE /v1/responses/{id}`, `…/cancel`, `…/input_items`: the gateway keeps no
   * response, so there is none to fetch; said plainly (after the key is checked) rather than as
   * an unknown route.
   */
  private async storedResponse(req: IncomingMessage, log: RelayLogFields): Promise<void> {
    this.requireReady();
    await this.caller(req, log);
    throw new BadRequestError(
      'This gateway does not store responses: a response cannot be retrieved, cancelled or deleted, and previous_response_id is not supported. Send the whole conversation in `input` instead.',
      { code: 'responses_not_stored' },
    );
  }

  private requireReady(): void {
    if (!this.deps.ready()) {
      throw new ServiceUnavailableError(
        'The gateway is not ready (starting up or shutting down); retry shortly',
        {
          code: 'not_ready',
        },
      );
    }
  }

  private async caller(req: IncomingMessage, log: RelayLogFields): Promise<RelayCaller> {
    const apiKey = req.headers['x-api-key'];
    const key = bearerKey(req.headers.authorization, typeof apiKey === 'string' ? apiKey : undefined);
    const found = await this.deps.auth.authenticate(key, proxyaddr(req, this.trust));
    log.tokenId = found.token.id;
    log.userId = found.user.id;
    return found;
  }

  /** Reads a JSON body of at most MAX_BODY bytes and MAX_JSON_DEPTH levels. */
  private readJson(req: IncomingMessage): Promise<{ json: unknown; bytes: number }> {
    return readJsonBody(req, {
      maxBytes: this.deps.maxBodyBytes,
      maxDepth: this.deps.maxJsonDepth,
      limitName: 'MAX_BODY',
    });
  }

  private fail(res: ServerResponse, err: unknown, requestId: string, ingress?: IngressFormat): void {
    // A body we refused to read must not be parsed (or drained) as the next request on this connection.
    closeIfBodyUnread(res);
    answerError(res, err, requestId, this.logger, ingress && ((e) => ingress.errorBody(e)));
  }
}

/** The longest model name accepted (model names in the admin API are held to 128). */
const MAX_MODEL_NAME = 256;

/**
 * Runs a translation of the client's body; what it throws other than the gateway's own errors
 * (a field of an unexpected type that slipped past validation, say `{"toString":1}` where text
 * belongs) is the client's body, never a 500.
 */
function asClientError<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new BadRequestError(
      `The request body could not be read: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300),
      { code: 'invalid_body' },
    );
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Express's "trust proxy" semantics: true, false, a hop count, or a comma-separated list of subnets. */
function compileTrust(value: boolean | number | string): (addr: string, i: number) => boolean {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') return (_addr, i) => i < value;
  return proxyaddr.compile(value.split(',').map((s) => s.trim()));
}

function requireModelBody(body: unknown): Record<string, unknown> & { model: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('Send a JSON object body with Content-Type: application/json', {
      code: 'invalid_body',
    });
  }
  const model = (body as { model?: unknown }).model;
  if (typeof model !== 'string' || model.trim() === '') {
    throw new BadRequestError('model: required, the name of a model (a string)', {
      param: 'model',
      code: 'invalid_value',
    });
  }
  // Names are echoed in errors and logs: a longer one is no model's, and would be echoed whole.
  if (model.length > MAX_MODEL_NAME) {
    throw new BadRequestError(`model: at most ${MAX_MODEL_NAME} characters (got ${model.length})`, {
      param: 'model',
      code: 'invalid_value',
    });
  }
  const stream = (body as { stream?: unknown }).stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw new BadRequestError('stream: must be true or false', { param: 'stream', code: 'invalid_value' });
  }
  return body as Record<string, unknown> & { model: string };
}
