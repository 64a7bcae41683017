import { OpenAiAdapter } from './openai.adapter.js';
import type { ProviderAdapter } from './provider-adapter.js';

/** The adapter for each channel `type`. */
export function createAdapters(): ReadonlyMap<string, ProviderAdapter> {
  return new Map<string, ProviderAdapter>([['openai', new OpenAiAdapter()]]);
}
