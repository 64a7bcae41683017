import { z } from 'zod';
import { BadRequestError } from '../../errors/bad-request.error.js';
import type { RoutedChannel } from '../../cfg/routing-index.js';
import { AnthropicAdapter } from './anthropic/anthropic.adapter.js';
import { AzureAdapter } from './azure/azure.adapter.js';
import { BedrockAdapter } from './bedrock/bedrock.adapter.js';
import { GeminiAdapter } from './gemini/gemini.adapter.js';
import { OpenAiAdapter } from './openai/openai.adapter.js';
import type { ProviderAdapter } from './provider-adapter.js';

/**
 * Every provider adapter, by channel `type`. To add a provider: write its adapter in its own
 * folder and list it here (docs/architecture.md, "How to add a provider").
 */
export class AdapterRegistry {
  private readonly byType = new Map<string, ProviderAdapter>();
  /** Parsed settings per routed channel (a routed channel is replaced, never changed, on a config change). */
  private readonly parsed = new WeakMap<RoutedChannel, unknown>();

  constructor(adapters: ProviderAdapter[]) {
    for (const a of adapters) this.byType.set(a.type, a);
  }

  get(type: string): ProviderAdapter | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** The channel's settings as its adapter reads them (cached per routed channel). */
  settingsOf(adapter: ProviderAdapter, channel: RoutedChannel): unknown {
    let s = this.parsed.get(channel);
    if (s === undefined) {
      // Stored settings were validated on write; a channel from an older release has none.
      const r = adapter.settings.safeParse(channel.settings);
      s = r.success ? r.data : adapter.settings.parse({});
      this.parsed.set(channel, s);
    }
    return s;
  }

  /** Every type with its settings as a JSON Schema (defaults included): what a channel form asks for. */
  describe(): { type: string; settingsSchema: unknown }[] {
    return [...this.byType.values()].map((a) => ({ type: a.type, settingsSchema: settingsJsonSchema(a) }));
  }

  /** Validates a channel's type and settings for a write; the settings with defaults filled in. */
  validate(type: string, settings: Record<string, unknown>): Record<string, unknown> {
    const adapter = this.byType.get(type);
    if (!adapter)
      throw new BadRequestError(`Unknown channel type "${type}": one of ${this.types().join(', ')}`, {
        param: 'type',
        code: 'invalid_channel_type',
      });
    const r = adapter.settings.safeParse(settings);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const param = ['settings', ...issue.path.map(String)].join('.');
      throw new BadRequestError(`Invalid ${param} for a ${type} channel: ${issue.message}`, { param });
    }
    return r.data as Record<string, unknown>;
  }
}

/** The adapters this build serves. */
export function createAdapters(): AdapterRegistry {
  return new AdapterRegistry([
    new OpenAiAdapter(),
    new AzureAdapter(),
    new AnthropicAdapter(),
    new GeminiAdapter(),
    new BedrockAdapter(),
  ]);
}

/** Used by the registry's error messages and the docs: a settings schema's JSON form. */
export function settingsJsonSchema(adapter: ProviderAdapter): unknown {
  return z.toJSONSchema(adapter.settings as z.ZodType, { io: 'input' });
}
