import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PriceRecord } from '../db/repositories/price.repository.js';
import { InsufficientQuotaError } from '../errors/insufficient-quota.error.js';
import { RateLimitError } from '../errors/rate-limit.error.js';
import { UnpricedModelError } from '../errors/unpriced-model.error.js';
import type { Metrics } from '../obs/metrics.js';
import type { Endpoint } from '../relay/adapters/provider-adapter.js';
import type { RelayCaller } from '../relay/relay-auth.js';
import type { BillingStore, Limiter, WindowState } from './billing-store.js';
import { quotaFor, type PriceBook, type TokenCounts } from './price-book.js';
import { estimatePromptTokens } from './token-counter.js';

export interface BillingOptions {
  /** False: a plain relay; nothing is priced, limited, charged or logged. */
  enabled: boolean;
  /** Relay models without a price, charged 0 (and logged) instead of refusing them. */
  allowUnpriced: boolean;
  /** Completion tokens held for a request that sets no `max_tokens`. */
  reserveCompletionTokens: number;
}

/** What one admitted request holds and counts, until it settles. */
export interface BillingTicket {
  chargeId: string;
  requestId: string;
  caller: RelayCaller;
  model: string;
  price: PriceRecord | undefined;
  ratio: number;
  /** Tokens counted against the TPM windows at admission. */
  estimatedTokens: number;
  limiters: Limiter[];
  windows: WindowState[];
  startedAt: number;
}

/** How a relayed request ended, as the relay reports it. */
export interface RelayOutcome {
  status: number;
  /** Tokens to charge; undefined when no answer reached the client (the hold is refunded). */
  counts?: TokenCounts;
  channelId?: number;
  upstreamModel?: string;
  stream: boolean;
  attempts?: number;
  ttftMs?: number;
}

/**
 * The money side of a relayed request: price it, check and take its rate-limit share and
 * quota hold before the upstream call (one atomic step in the store), and afterwards settle it
 * with the real usage (or refund it), recording the usage row.
 */
export class BillingService {
  private readonly settling = new Set<Promise<void>>();

  constructor(
    private readonly store: BillingStore,
    private readonly prices: () => PriceBook,
    private readonly opts: BillingOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Throws 403 (unpriced), 429 rate_limit_exceeded or 429 insufficient_quota; else the ticket. */
  async admit(req: {
    requestId: string;
    caller: RelayCaller;
    endpoint: Endpoint;
    body: Record<string, unknown> & { model: string };
    bodyBytes: number;
  }): Promise<BillingTicket> {
    const { caller, body } = req;
    const book = this.prices();
    const price = book.price(body.model);
    if (!price && !this.opts.allowUnpriced) {
      this.metrics.billingAdmissions.inc({ result: 'unpriced' });
      throw new UnpricedModelError(body.model);
    }
    const group = book.group(caller.token.group);
    const ratio = group?.ratio ?? 1;
    const prompt = estimatePromptTokens(req.bodyBytes);
    const completion =
      req.endpoint === 'embeddings' ? 0 : maxTokensOf(body, this.opts.reserveCompletionTokens);
    const estimatedTokens = prompt + completion;
    const reserve = price
      ? quotaFor({ promptTokens: prompt, completionTokens: completion, cachedTokens: 0 }, price, ratio)
      : 0;
    const limiters = limitersOf(caller, group, estimatedTokens);
    const chargeId = randomUUID();
    const r = await this.store.admit({
      chargeId,
      tokenId: caller.token.id,
      userId: caller.user.id,
      reserve,
      limiters,
    });
    if (r.kind === 'rate') {
      const l = limiters[r.limiter]!;
      this.metrics.billingAdmissions.inc({ result: `rate_${l.kind}` });
      throw rateLimited(l, r.retryAfterMs);
    }
    if (r.kind === 'quota') {
      this.metrics.billingAdmissions.inc({ result: 'quota' });
      throw new InsufficientQuotaError(
        r.who === 'token'
          ? 'You exceeded your current quota: this API key has no quota left for this request'
          : "You exceeded your current quota: this API key's user has no quota left for this request",
      );
    }
    this.metrics.billingAdmissions.inc({ result: 'ok' });
    return {
      chargeId,
      requestId: req.requestId,
      caller,
      model: body.model,
      price,
      ratio,
      estimatedTokens,
      limiters,
      windows: r.windows,
      startedAt: Date.now(),
    };
  }

  /** OpenAI's rate-limit headers for the tightest request and token limits of the ticket. */
  rateLimitHeaders(ticket: BillingTicket): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const kind of ['requests', 'tokens'] as const) {
      let best = -1;
      for (let i = 0; i < ticket.limiters.length; i++) {
        if (ticket.limiters[i]!.kind !== kind) continue;
        if (best < 0 || ticket.windows[i]!.remaining < ticket.windows[best]!.remaining) best = i;
      }
      if (best < 0) continue;
      const w = ticket.windows[best]!;
      headers[`x-ratelimit-limit-${kind}`] = String(ticket.limiters[best]!.limit);
      headers[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, w.remaining));
      headers[`x-ratelimit-reset-${kind}`] = goDuration(w.resetMs);
    }
    return headers;
  }

  /**
   * Settles a ticket in the background (the answer is already on its way): charges what was
   * delivered, or refunds the hold. Returns the quota charged. Never throws; `drain()` waits
   * for every settlement.
   */
  settle(ticket: BillingTicket, outcome: RelayOutcome): number {
    const quota = outcome.counts && ticket.price ? quotaFor(outcome.counts, ticket.price, ticket.ratio) : 0;
    const run = this.doSettle(ticket, outcome, quota).catch((err: unknown) =>
      this.logger.error(
        { err, requestId: ticket.requestId, chargeId: ticket.chargeId },
        'could not settle a charge',
      ),
    );
    this.settling.add(run);
    void run.finally(() => this.settling.delete(run));
    return quota;
  }

  /** Waits for settlements under way (shutdown). */
  async drain(): Promise<void> {
    while (this.settling.size > 0) await Promise.all([...this.settling]);
  }

  private async doSettle(t: BillingTicket, o: RelayOutcome, quota: number): Promise<void> {
    const counts = o.counts ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };
    const now = Date.now();
    if (quota > 0) this.metrics.billingQuota.inc(quota);
    await this.store.settle({
      chargeId: t.chargeId,
      tokenId: t.caller.token.id,
      userId: t.caller.user.id,
      quota,
      tokensDelta: counts.promptTokens + counts.completionTokens - t.estimatedTokens,
      tokenWindows: t.limiters
        .filter((l) => l.kind === 'tokens')
        .map((l) => ({ key: l.key, limit: l.limit })),
      usage: {
        chargeId: t.chargeId,
        requestId: t.requestId,
        type: 'consume',
        createdAt: t.startedAt,
        userId: t.caller.user.id,
        tokenId: t.caller.token.id,
        channelId: o.channelId ?? null,
        // The columns hold 128 characters; a longer name (a client's typo) must not make the row unwritable.
        model: t.model.slice(0, 128),
        upstreamModel: o.upstreamModel?.slice(0, 128) ?? null,
        promptTokens: Math.min(counts.promptTokens, MAX_INT),
        completionTokens: Math.min(counts.completionTokens, MAX_INT),
        cachedTokens: Math.min(counts.cachedTokens, MAX_INT),
        cacheWriteTokens: Math.min(counts.cacheWriteTokens ?? 0, MAX_INT),
        quota,
        latencyMs: now - t.startedAt,
        ttftMs: o.ttftMs ?? null,
        stream: o.stream,
        status: o.status,
        retries: Math.max(0, (o.attempts ?? 1) - 1),
        note: t.price ? null : 'unpriced model: charged 0',
        priceInput: t.price?.input ?? null,
        priceOutput: t.price?.output ?? null,
        priceCachedInput: t.price?.cachedInput ?? null,
        priceCacheWriteInput: t.price?.cacheWriteInput ?? null,
        groupRatio: t.price ? t.ratio : null,
      },
    });
  }
}

/** The token columns are 32-bit: an upstream's absurd usage must not make the row unwritable. */
const MAX_INT = 2_147_483_647;

/** The most completion tokens a hold counts: far above any model's, and safe in every store's arithmetic. */
const MAX_HELD_COMPLETION = 100_000_000;

/**
 * The completion tokens to hold: the largest of the limits the request gives (`max_tokens`,
 * `max_completion_tokens`, `max_output_tokens`), since an upstream may honour any one of them
 * (a small one next to a large one must not shrink the hold); else the default hold.
 */
export function maxTokensOf(body: Record<string, unknown>, fallback: number): number {
  let most: number | undefined;
  for (const name of ['max_completion_tokens', 'max_tokens', 'max_output_tokens']) {
    const v = body[name];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) most = Math.max(most ?? 0, Math.floor(v));
  }
  return most === undefined ? fallback : Math.min(most, MAX_HELD_COMPLETION);
}

function limitersOf(
  caller: RelayCaller,
  group: { name: string; rpmLimit: number | null; tpmLimit: number | null } | undefined,
  tokens: number,
): Limiter[] {
  const out: Limiter[] = [];
  const add = (scope: Limiter['scope'], id: string | number, rpm: number | null, tpm: number | null) => {
    if (rpm !== null) out.push({ key: `${scope}:${id}:rpm`, scope, kind: 'requests', limit: rpm, cost: 1 });
    if (tpm !== null)
      out.push({ key: `${scope}:${id}:tpm`, scope, kind: 'tokens', limit: tpm, cost: tokens });
  };
  add('token', caller.token.id, caller.token.rpmLimit, caller.token.tpmLimit);
  add('user', caller.user.id, caller.user.rpmLimit, caller.user.tpmLimit);
  if (group) add('group', group.name, group.rpmLimit, group.tpmLimit);
  return out;
}

function rateLimited(l: Limiter, retryAfterMs: number): RateLimitError {
  const what = l.kind === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
  if (retryAfterMs < 0) {
    return new RateLimitError(
      l.kind,
      `Request too large for the ${l.scope}'s ${what}: limit ${l.limit}, requested ${l.cost}`,
    );
  }
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new RateLimitError(
    l.kind,
    `Rate limit reached for this ${l.scope} on ${what}: limit ${l.limit}. Please try again in ${seconds}s.`,
    {
      headers: {
        'retry-after': String(seconds),
        'retry-after-ms': String(Math.max(0, retryAfterMs)),
        [`x-ratelimit-limit-${l.kind}`]: String(l.limit),
        [`x-ratelimit-remaining-${l.kind}`]: '0',
        [`x-ratelimit-reset-${l.kind}`]: goDuration(retryAfterMs),
      },
    },
  );
}

/** A duration as OpenAI writes it in rate-limit headers: 250ms, 12s, 1m0s. */
export function goDuration(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v}ms`;
  const s = Math.ceil(v / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}
