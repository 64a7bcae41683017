import type { Endpoint, NormalizedUsage, UpstreamErrorInfo } from '../provider-adapter.js';

/** Token counts as OpenAI reports them: chat and completions (`prompt_tokens`…) or the Responses API (`input_tokens`…). */
export interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

const count = (n: unknown): number =>
  typeof n === 'number' && Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;

/** OpenAI's usage, normalised; undefined when there is none. Embeddings have no completion. */
export function openAiUsage(
  usage: OpenAiUsage | null | undefined,
  endpoint: Endpoint,
): NormalizedUsage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const prompt = count(usage.prompt_tokens ?? usage.input_tokens);
  const total = usage.total_tokens;
  const completion =
    endpoint === 'embeddings'
      ? 0
      : count(
          usage.completion_tokens ?? usage.output_tokens ?? (typeof total === 'number' ? total - prompt : 0),
        );
  const cached = count(
    usage.prompt_tokens_details?.cached_tokens ?? usage.input_tokens_details?.cached_tokens,
  );
  const reasoning = count(
    usage.completion_tokens_details?.reasoning_tokens ?? usage.output_tokens_details?.reasoning_tokens,
  );
  return {
    promptTokens: prompt,
    completionTokens: completion,
    cachedTokens: Math.min(cached, prompt),
    cacheWriteTokens: 0,
    ...(reasoning ? { reasoningTokens: Math.min(reasoning, completion) } : {}),
  };
}

/** Reads an OpenAI-shaped (or any) error body: its message, code and type. */
export function readOpenAiError(text: string): UpstreamErrorInfo {
  const out: UpstreamErrorInfo = { message: text.slice(0, 500), code: null, type: null };
  try {
    const json = JSON.parse(text) as {
      error?: { message?: unknown; code?: unknown; type?: unknown; param?: unknown } | string;
      message?: unknown;
    };
    const e = json.error;
    if (typeof e === 'string') out.message = e;
    else if (e && typeof e === 'object') {
      if (typeof e.message === 'string') out.message = e.message;
      if (typeof e.code === 'string') out.code = e.code;
      if (typeof e.type === 'string') out.type = e.type;
      if (typeof e.param === 'string') out.param = e.param;
    } else if (typeof json.message === 'string') out.message = json.message;
  } catch {
    // Not JSON (an HTML error page, a proxy's text): keep the start of it.
  }
  return out;
}
