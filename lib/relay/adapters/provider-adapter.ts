import type { RoutedChannel } from '../../cfg/routing-index.js';

/** The OpenAI-shaped operations the relay serves. */
export type Endpoint = 'chat' | 'completions' | 'embeddings';

/** An upstream HTTP request ready to send. */
export interface PreparedRequest {
  /** POST unless said otherwise. */
  method?: 'GET' | 'POST';
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Turns an OpenAI-shaped request body into a provider's request. One adapter per channel type;
 * answers are OpenAI-shaped for every adapter (an adapter for a non-OpenAI provider will also
 * translate the answer).
 */
export interface ProviderAdapter {
  prepare(channel: RoutedChannel, endpoint: Endpoint, body: Record<string, unknown>): PreparedRequest;
  /** The request for the upstream's model list (OpenAI's `GET /v1/models` shape in the answer). */
  listModels(channel: RoutedChannel): PreparedRequest;
}

/**
 * Token counts of one answer, normalised across providers. `promptTokens` includes cached reads
 * and cache writes; `cachedTokens` (reads) and `cacheWriteTokens` are kept apart for pricing.
 */
export interface NormalizedUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  /** Part of `completionTokens` spent on reasoning, when the provider says. */
  reasoningTokens?: number;
}
