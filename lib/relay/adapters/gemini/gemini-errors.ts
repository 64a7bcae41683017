import type { UpstreamErrorInfo } from '../provider-adapter.js';

/**
 * Gemini's error body, `{"error":{"code","message","status","details":[{"reason"}]}}` (as an
 * array of one when it comes from the stream endpoint), read into the gateway's terms. The
 * `status` and the `ErrorInfo` reason decide, not the HTTP status alone: an invalid API key is
 * a 400 `INVALID_ARGUMENT` whose reason is `API_KEY_INVALID`.
 */
export function readGeminiError(status: number, text: string): UpstreamErrorInfo {
  const info: UpstreamErrorInfo = { message: text.slice(0, 500) || `HTTP ${status}`, code: null, type: null };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return info;
  }
  if (Array.isArray(body)) body = body[0];
  const e = (body as { error?: unknown } | null)?.error as
    | {
        message?: unknown;
        status?: unknown;
        details?: { reason?: unknown; '@type'?: unknown; retryDelay?: unknown }[];
      }
    | undefined;
  if (!e || typeof e !== 'object') return info;
  if (typeof e.message === 'string') info.message = e.message;
  const rpcStatus = typeof e.status === 'string' ? e.status : null;
  const reason = Array.isArray(e.details)
    ? e.details.map((d) => d?.reason).find((r): r is string => typeof r === 'string')
    : undefined;
  info.type = rpcStatus;
  // A 429's wait is in the body: google.rpc.RetryInfo's retryDelay ("37s", "0.5s").
  const delay = Array.isArray(e.details)
    ? e.details.find((d) => typeof d?.['@type'] === 'string' && d['@type'].endsWith('google.rpc.RetryInfo'))
        ?.retryDelay
    : undefined;
  const seconds = typeof delay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(delay)?.[1] : undefined;
  if (seconds !== undefined) info.retryAfterMs = Math.round(Number(seconds) * 1000);
  info.code = reason ?? rpcStatus;
  if (reason === 'API_KEY_INVALID' || rpcStatus === 'PERMISSION_DENIED' || rpcStatus === 'UNAUTHENTICATED')
    info.kind = 'unusable';
  else if (rpcStatus === 'RESOURCE_EXHAUSTED') info.kind = 'rate_limited';
  else if (rpcStatus === 'INVALID_ARGUMENT') info.kind = 'client';
  // "User location is not supported", billing not enabled: the channel's account, not the request.
  else if (rpcStatus === 'FAILED_PRECONDITION') info.kind = 'fault';
  return info;
}
