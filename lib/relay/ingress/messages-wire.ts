import type { NormalizedUsage } from '../adapters/provider-adapter.js';

type Json = Record<string, unknown>;

/** OpenAI's `finish_reason` as Claude's `stop_reason`. */
export function stopReason(finish: unknown): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Normalised usage in Claude's shape (its `input_tokens` leave out cache reads and writes). */
export function claudeUsage(u: NormalizedUsage | undefined): Json {
  const read = u?.cachedTokens ?? 0;
  const write = u?.cacheWriteTokens ?? 0;
  return {
    input_tokens: Math.max(0, (u?.promptTokens ?? 0) - read - write),
    output_tokens: u?.completionTokens ?? 0,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
  };
}

/** Claude's error `type` for a gateway error of this HTTP status. */
export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 402) return 'billing_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status === 504) return 'timeout_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}
