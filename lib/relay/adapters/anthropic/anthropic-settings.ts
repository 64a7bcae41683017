import { z } from 'zod';

/** The `anthropic-version` header sent when a channel's settings name none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** `max_tokens` when the client sent none and neither the channel nor the model table says. */
export const SAFE_MAX_TOKENS = 4096;

/** Extended-thinking budgets (tokens) per OpenAI `reasoning_effort`, unless a channel sets its own. */
export const DEFAULT_THINKING_BUDGETS = { minimal: 1024, low: 2048, medium: 8192, high: 16384 } as const;

const budget = z.number().int().min(1024, 'a thinking budget is at least 1024 tokens (Anthropic minimum)');

/** A Claude channel's `settings`. Every field is optional; absent ones take the defaults above. */
export const anthropicSettingsSchema = z
  .object({
    /** The `anthropic-version` header. */
    anthropic_version: z.string().min(1).max(64).default(DEFAULT_ANTHROPIC_VERSION),
    /** `anthropic-beta` flags sent with every request (joined with commas). */
    anthropic_beta: z.array(z.string().min(1).max(128)).max(32).default([]),
    /** `max_tokens` for requests that carry none (else the model's documented maximum output). */
    default_max_tokens: z.number().int().positive().optional(),
    /** Overrides of the thinking budget per `reasoning_effort`. */
    thinking_budgets: z
      .object({ minimal: budget, low: budget, medium: budget, high: budget })
      .partial()
      .strict()
      .default({}),
  })
  .strict();

export type AnthropicSettings = z.infer<typeof anthropicSettingsSchema>;

/**
 * Documented maximum output tokens by model-name prefix, longest prefix first. A name that
 * matches none gets {@link SAFE_MAX_TOKENS}.
 */
const MAX_OUTPUT: readonly [string, number][] = [
  ['claude-opus-4-5', 64_000],
  ['claude-opus-4-1', 32_000],
  ['claude-opus-4', 32_000],
  ['claude-sonnet-4', 64_000],
  ['claude-haiku-4', 64_000],
  ['claude-3-7-sonnet', 64_000],
  ['claude-3-5-sonnet', 8192],
  ['claude-3-5-haiku', 8192],
  ['claude-3-opus', 4096],
  ['claude-3-sonnet', 4096],
  ['claude-3-haiku', 4096],
];

/** The `max_tokens` to send when the client gave none. */
export function defaultMaxTokens(model: string, settings: AnthropicSettings): number {
  if (settings.default_max_tokens !== undefined) return settings.default_max_tokens;
  for (const [prefix, max] of MAX_OUTPUT) if (model.startsWith(prefix)) return max;
  return SAFE_MAX_TOKENS;
}
