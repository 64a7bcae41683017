import type { UpstreamErrorInfo } from '../provider-adapter.js';

/**
 * Reads Anthropic's error shape `{type: "error", error: {type, message}}` (the `error.type`
 * becomes both code and type, so `AUTO_DISABLE_ON` texts match it). The verdict:
 * - `rate_limit_error` and `overloaded_error` (HTTP 529): the channel is busy, cool it and retry
 *   elsewhere;
 * - `authentication_error` (401), `permission_error` (403): left to the status, which the
 *   operator's `AUTO_DISABLE_ON` turns into a disabled channel (401 and 403 by default);
 * - an `invalid_request_error` about the account's credit: the account is unusable;
 * - other `invalid_request_error`s, `not_found_error`, `request_too_large`: the client's (their 4xx status says so);
 * - `api_error`, `timeout_error`: the status (5xx) makes them the channel's fault.
 */
export function readAnthropicError(status: number, text: string): UpstreamErrorInfo {
  const info: UpstreamErrorInfo = { message: text.slice(0, 500) || `HTTP ${status}`, code: null, type: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return info; // an HTML page from a proxy in front: the status decides
  }
  const err = (parsed as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  if (!err || typeof err !== 'object') return info;
  if (typeof err.message === 'string') info.message = err.message;
  if (typeof err.type === 'string') info.code = info.type = err.type;
  const kind = errorKind(info.type, info.message);
  if (kind) info.kind = kind;
  return info;
}

function errorKind(type: string | null, message: string): UpstreamErrorInfo['kind'] {
  if (type === 'rate_limit_error' || type === 'overloaded_error') return 'rate_limited';
  if (type === 'invalid_request_error' && /credit balance is too low/i.test(message)) return 'unusable';
  return undefined;
}

/** The verdict for an `error` event in the middle of a stream (its HTTP status was 200). */
export function streamErrorInfo(data: string): UpstreamErrorInfo {
  const info = readAnthropicError(500, data);
  // Mid-stream there is no status to fall back on: anything not busy is the channel's fault.
  info.kind ??= info.type === 'invalid_request_error' ? 'client' : 'fault';
  return info;
}
