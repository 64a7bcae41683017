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

/** Replaces the channel's key wherever an upstream quoted it (some proxies echo it whole). */
function scrub(text: string, secret: string | undefined): string {
  return secret && secret.length >= 8 ? text.replaceAll(secret, '[channel key]') : text;
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
 * status alone would mean. `secret`, the channel's key, is cut out of whatever the upstream said.
 */
export function upstreamFailure(
  status: number,
  info: UpstreamErrorInfo,
  channelId: number,
  retryAfter: number | undefined,
  rules: AutoDisableRules,
  secret?: string,
): AttemptFailure {
  const e: UpstreamErrorInfo = { ...info, message: scrub(info.message, secret).slice(0, 500) };
  if (unusable(status, e, rules)) {
    return {
      retry: true,
      reason: 'unusable',
      kind: 'unusable',
      error: new UpstreamError(
        502,
        `The upstream account of channel ${channelId} is unusable (HTTP ${status}); it is being disabled`,
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
        `The upstream refused this gateway's credentials (channel ${channelId}, ${status})`,
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
    retryAfterMs: reason === 'status_429' ? retryAfter : undefined,
    error: new UpstreamError(
      status,
      `Upstream error ${status} (channel ${channelId}): ${e.message || 'no message'}`,
      {
        code: e.code ?? 'upstream_error',
      },
    ),
  };
}
