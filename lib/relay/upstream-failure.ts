import type { AppError } from '../errors/app.error.js';
import { UpstreamError } from '../errors/upstream.error.js';
import type { FailureKind } from '../routing/channel-health.js';
import type { UpstreamErrorInfo } from './adapters/provider-adapter.js';

/** Upstream answers that mean the channel's account is unusable (`AUTO_DISABLE_ON`). */
export interface AutoDisableRules {
  statuses: ReadonlySet<number>;
  /** Lower-cased texts matched against the error's code, type and message. */
  texts: readonly string[];
}

/** Parses `AUTO_DISABLE_ON`: comma-separated HTTP statuses and texts, or `none`. */
export function parseAutoDisableRules(text: string): AutoDisableRules {
  const statuses = new Set<number>();
  const texts: string[] = [];
  if (text.trim().toLowerCase() === 'none') return { statuses, texts };
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    if (/^\d{3}$/.test(item)) statuses.add(Number(item));
    else texts.push(item.toLowerCase());
  }
  return { statuses, texts };
}

/** Why one attempt failed, and whether another channel may be tried. */
export interface AttemptFailure {
  retry: boolean;
  error: AppError;
  /** The metric and log label: connect, timeout, reset, status_5xx, status_429, unusable… */
  reason: string;
  /** What it says about the channel; none when the failure is not the channel's. */
  kind?: FailureKind;
  /** What the upstream said, when the client is not shown it (it may quote the channel's key). */
  detail?: string;
  /** The upstream's Retry-After, for a 429. */
  retryAfterMs?: number;
}

/**
 * Cuts the channel's key out of what an upstream said, for the log: the key whole, its base64
 * forms, any prefix or suffix of 8+ characters of it (a proxy's "sk-SECRETKEY-e5…" echo), and
 * anything shaped like an API key. A key of several parts (Bedrock's
 * `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`) is cut out whole and part by part.
 */
export function scrubUpstreamText(text: string, secret: string | undefined): string {
  let out = text;
  const secrets = secret ? [secret, ...(secret.includes(':') ? secret.split(':') : [])] : [];
  for (const s of secrets) {
    if (s.length < 8) continue;
    const forms = [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('base64url')];
    for (const f of forms) out = out.replaceAll(f, '[channel key]');
    for (let n = Math.min(64, s.length - 1); n >= 8; n--) {
      out = out.replaceAll(s.slice(0, n), '[channel key]');
      out = out.replaceAll(s.slice(-n), '[channel key]');
    }
  }
  return out.replace(/\b(sk|pk|rk|key|ak)-[A-Za-z0-9_*.-]{4,}/gi, '[key]');
}

function unusable(status: number, e: UpstreamErrorInfo, rules: AutoDisableRules): boolean {
  if (e.kind === 'unusable') return true;
  if (e.kind === 'client') return false;
  if (rules.statuses.has(status)) return true;
  if (rules.texts.length === 0) return false;
  const fields = [e.code, e.type, e.message].filter((f): f is string => !!f).map((f) => f.toLowerCase());
  return rules.texts.some((t) => fields.some((f) => f.includes(t)));
}

/**
 * Maps an upstream error answer to a failure. An answer that says the account is unusable
 * (`rules`) is retried elsewhere and disables the channel; 429 cools it and 5xx counts against
 * its breaker, both retried; 401/403 not in the rules are retried too (they are about the
 * channel's key, not the caller's request). Other 4xx are the client's and are never retried.
 * `info` is the error as the channel's adapter read it; its `kind`, when set, overrides what the
 * status alone would mean. Whatever the upstream said goes to `detail`, for the log, with `secret`
 * (the channel's key) scrubbed out; clients see the gateway's own messages only.
 */
export function upstreamFailure(
  status: number,
  info: UpstreamErrorInfo,
  _channelId: number,
  retryAfter: number | undefined,
  rules: AutoDisableRules,
  secret?: string,
): AttemptFailure {
  const e: UpstreamErrorInfo = { ...info, message: scrubUpstreamText(info.message, secret).slice(0, 500) };
  if (unusable(status, e, rules)) {
    return {
      retry: true,
      reason: 'unusable',
      kind: 'unusable',
      error: new UpstreamError(
        502,
        `The upstream account of the channel is unusable (HTTP ${status}); the channel is being disabled`,
        { code: 'upstream_account_unusable' },
      ),
      detail: `${status} ${e.message}`.trim(),
    };
  }
  const reason =
    e.kind === 'client'
      ? 'status_4xx'
      : e.kind === 'rate_limited' || status === 429
        ? 'status_429'
        : e.kind === 'fault' || status >= 500
          ? 'status_5xx'
          : status === 401 || status === 403
            ? 'status_auth'
            : 'status_4xx';
  if (reason === 'status_auth') {
    // The upstream's words may quote part of the channel's key: for the operator's log only.
    return {
      retry: true,
      reason,
      kind: 'fault',
      error: new UpstreamError(
        502,
        `The upstream refused this gateway's credentials for the channel (HTTP ${status})`,
        { code: 'upstream_auth_failed' },
      ),
      detail: `${status} ${e.message}`.trim(),
    };
  }
  const retry = reason !== 'status_4xx';
  return {
    retry,
    reason,
    kind: reason === 'status_429' ? 'rate_limited' : retry ? 'fault' : undefined,
    retryAfterMs: reason === 'status_429' ? (retryAfter ?? e.retryAfterMs) : undefined,
    // The upstream's words go to the operator's log only: they may quote the channel's key (in
    // part or encoded), its URL or account. The client gets the gateway's own message with the
    // upstream's status and, for its own request's errors, the upstream's param and code when
    // they are plain identifiers.
    detail: `${status} ${e.message}`.trim(),
    error: new UpstreamError(status, clientMessage(status, reason, e), {
      code: safeIdentifier(e.code) ?? 'upstream_error',
      param: reason === 'status_4xx' ? safeIdentifier(e.param ?? null) : null,
    }),
  };
}

/** A field an upstream sent that is safe to show a client: a short plain identifier. */
function safeIdentifier(value: string | null): string | null {
  return value && /^[A-Za-z0-9_.[\]-]{1,64}$/.test(value) && !/^(sk|pk|rk|key|ak)-/i.test(value)
    ? value
    : null;
}

function clientMessage(status: number, reason: string, e: UpstreamErrorInfo): string {
  if (reason === 'status_429') return `The upstream is rate limiting requests (HTTP ${status}); retry later`;
  if (reason === 'status_5xx') return `The upstream failed (HTTP ${status})`;
  const param = safeIdentifier(e.param ?? null);
  return (
    `The upstream refused the request as invalid (HTTP ${status})` +
    (param ? `; check the parameter ${param}` : '') +
    '; the gateway does not pass on upstream error messages'
  );
}
