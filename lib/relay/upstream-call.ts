import { BadRequestError } from '../errors/bad-request.error.js';
import { UpstreamError } from '../errors/upstream.error.js';
import { retryAfterMs } from '../routing/channel-health.js';
import type {
  AdapterRequest,
  DecodedAnswer,
  PreparedRequest,
  ProviderAdapter,
} from './adapters/provider-adapter.js';
import { classifyTransportError, type UpstreamClient, type UpstreamExchange } from './upstream-client.js';
import {
  scrubUpstreamText,
  upstreamFailure,
  type AttemptFailure,
  type AutoDisableRules,
} from './upstream-failure.js';
import { transportFailure } from './transport-failure.js';
import { UpstreamAddressDeniedError } from './upstream-policy.js';

/** One request on its way to an upstream: the adapter that built it, what it was built from, the exchange. */
export interface UpstreamCall {
  adapter: ProviderAdapter;
  req: AdapterRequest<unknown>;
  exchange: UpstreamExchange;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * The send → status → failure → decode sequence every upstream call goes through, the relay's and
 * the channel tester's alike, so a new provider is relayed and tested by the same code.
 */
export class UpstreamCaller {
  constructor(
    private readonly client: UpstreamClient,
    private readonly totalTimeoutMs: number,
  ) {}

  /** Builds the request with the channel's adapter and sends it; a failure when it cannot be built. */
  async open(
    adapter: ProviderAdapter,
    req: AdapterRequest<unknown>,
    budgetMs: number,
  ): Promise<UpstreamCall | AttemptFailure> {
    let prepared;
    try {
      prepared = await adapter.prepare(req);
    } catch (err) {
      // A request the adapter cannot translate (a malformed message, a part the provider does
      // not take) is the client's: a 400 that names the field, not a channel failure.
      if (err instanceof BadRequestError) return { retry: false, reason: 'bad_request', error: err };
      // Signing or a token exchange failed: the channel's configuration, not the client's request.
      // Its words are logged and stored (a channel test) like an upstream's: an adapter or a
      // signer may quote the key material it was given.
      return {
        retry: true,
        reason: 'prepare',
        kind: 'fault',
        error: new UpstreamError(502, 'Could not build the upstream request'),
        detail: scrubUpstreamText(err instanceof Error ? err.message : String(err), req.channel.apiKey).slice(
          0,
          500,
        ),
      };
    }
    return this.send(adapter, req, prepared, budgetMs);
  }

  /** Sends a request already built (a side operation of an adapter, such as Anthropic's count_tokens). */
  send(
    adapter: ProviderAdapter,
    req: AdapterRequest<unknown>,
    prepared: PreparedRequest,
    budgetMs: number,
  ): UpstreamCall {
    // The request's budget runs until its answer starts reaching the client (exchange.commit()).
    const exchange = this.client.send(prepared, req.channel.timeouts, budgetMs);
    return { adapter, req, exchange };
  }

  /** Waits for the answer's head; an error answer (status >= 400) becomes a failure, read by the adapter. */
  async head(call: UpstreamCall, rules: AutoDisableRules): Promise<AttemptFailure | undefined> {
    const { exchange, adapter, req } = call;
    try {
      await exchange.response;
    } catch (err) {
      const f = transportFailure(classifyTransportError(err), req.channel.id, this.totalTimeoutMs);
      // The upstream policy's refusal names its reason, for the log and the channel test.
      return err instanceof UpstreamAddressDeniedError ? { ...f, detail: err.message } : f;
    }
    if (exchange.statusCode < 400) return undefined;
    const text = await exchange.collect(MAX_ERROR_BODY).then(
      (b) => b.toString('utf8'),
      () => '',
    );
    return upstreamFailure(
      exchange.statusCode,
      adapter.readError(exchange.statusCode, text),
      req.channel.id,
      retryAfterMs(exchange.headers['retry-after']),
      rules,
      req.channel.apiKey,
    );
  }

  /** Reads and decodes a whole answer (after {@link head} passed). */
  async whole(call: UpstreamCall, limit: number): Promise<DecodedAnswer | AttemptFailure> {
    const { exchange, adapter, req } = call;
    let raw: Buffer;
    try {
      raw = await exchange.collect(limit);
    } catch (err) {
      if (err instanceof UpstreamError)
        return { retry: true, reason: 'too_large', kind: 'fault', error: err };
      const kind = classifyTransportError(err);
      return kind === 'reset'
        ? {
            retry: true,
            reason: 'reset',
            kind: 'fault',
            error: new UpstreamError(502, 'The upstream broke off its answer'),
          }
        : transportFailure(kind, req.channel.id, this.totalTimeoutMs);
    }
    try {
      return adapter.decode(req, raw);
    } catch {
      return {
        retry: true,
        reason: 'bad_body',
        kind: 'fault',
        error: new UpstreamError(502, 'The upstream answered with a body it could not read'),
      };
    }
  }
}
