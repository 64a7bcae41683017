import { UpstreamError } from '../errors/upstream.error.js';
import type { TransportFailure } from './upstream-client.js';
import type { AttemptFailure } from './upstream-failure.js';

/** A failed attempt that got no usable answer: a timeout, a connection error, the budget spent. */
export function transportFailure(
  kind: TransportFailure,
  channelId: number | undefined,
  totalTimeoutMs: number,
): AttemptFailure {
  switch (kind) {
    case 'aborted':
      return { retry: false, reason: kind, error: new UpstreamError(499, 'The client closed the request') };
    case 'budget':
      return {
        retry: false,
        reason: kind,
        kind: channelId === undefined ? undefined : 'fault',
        error: new UpstreamError(
          504,
          `No upstream answered within the request's budget of ${totalTimeoutMs} ms (UPSTREAM_TOTAL_TIMEOUT_MS)`,
          { code: 'upstream_timeout' },
        ),
      };
    case 'timeout':
      return {
        retry: true,
        reason: kind,
        kind: 'fault',
        error: new UpstreamError(504, 'The upstream did not answer in time', {
          code: 'upstream_timeout',
        }),
      };
    default:
      return {
        retry: true,
        reason: kind,
        kind: 'fault',
        error: new UpstreamError(502, `Could not reach the upstream: ${kind}`),
      };
  }
}
