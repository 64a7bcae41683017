import type { RoutedChannel, RoutingIndex } from '../cfg/routing-index.js';
import { NoChannelError } from '../errors/no-channel.error.js';
import { upstreamModel } from '../routing/channel-selector.js';
import type { AdapterRegistry } from './adapters/index.js';
import type { PreparedRequest, ProviderAdapter } from './adapters/provider-adapter.js';
import { estimateMessagesTokens } from './ingress/messages-count.js';
import type { UpstreamCaller } from './upstream-call.js';
import type { AutoDisableRules } from './upstream-failure.js';

/** An adapter whose provider counts a Messages request's tokens itself (Anthropic's count_tokens). */
interface CountsTokens {
  prepareCountTokens(
    channel: RoutedChannel,
    settings: unknown,
    body: Record<string, unknown>,
  ): Promise<PreparedRequest>;
}

function countsTokens(a: ProviderAdapter): a is ProviderAdapter & CountsTokens {
  return typeof (a as Partial<CountsTokens>).prepareCountTokens === 'function';
}

/** The answer of `/v1/messages/count_tokens`: the upstream's bytes, or the local estimate. */
export type CountTokensAnswer = { raw: Buffer } | { json: { input_tokens: number } };

const MAX_ANSWER = 64 * 1024;

/**
 * `/v1/messages/count_tokens`: asked of the first Claude channel (in routing order) that serves
 * the model, passed through as it answers; when no Claude channel serves it, or none answers,
 * estimated locally ({@link estimateMessagesTokens}). Counting is free and not billed.
 */
export class CountTokensService {
  constructor(
    private readonly routing: () => RoutingIndex,
    private readonly adapters: AdapterRegistry,
    private readonly calls: UpstreamCaller,
    private readonly rules: AutoDisableRules,
    private readonly budgetMs: number,
  ) {}

  async count(group: string, body: Record<string, unknown> & { model: string }): Promise<CountTokensAnswer> {
    const tiers = this.routing().tiers(group, body.model);
    if (tiers.length === 0) throw new NoChannelError(group, body.model);
    for (const tier of tiers) {
      for (const channel of tier.channels) {
        const adapter = this.adapters.get(channel.type);
        if (!adapter || !countsTokens(adapter)) continue;
        const answer = await this.ask(adapter, channel, body);
        if (answer) return answer;
      }
    }
    return { json: { input_tokens: await estimateMessagesTokens(body) } };
  }

  /** The channel's count; undefined when it could not answer (the next one, or the estimate, then). */
  private async ask(
    adapter: ProviderAdapter & CountsTokens,
    channel: RoutedChannel,
    body: Record<string, unknown> & { model: string },
  ): Promise<CountTokensAnswer | undefined> {
    const settings = this.adapters.settingsOf(adapter, channel);
    const mapped = { ...body, model: upstreamModel(channel, body.model) };
    const prepared = await adapter.prepareCountTokens(channel, settings, mapped);
    const call = this.calls.send(
      adapter,
      { channel, settings, endpoint: 'messages', body: mapped, stream: false },
      prepared,
      this.budgetMs,
    );
    const failed = await this.calls.head(call, this.rules);
    // The client's own mistake comes back to it; anything else is the channel's, and counting goes on elsewhere.
    if (failed && !failed.retry) throw failed.error;
    if (failed) return undefined;
    try {
      const raw = await call.exchange.collect(MAX_ANSWER);
      call.exchange.commit();
      const n = (JSON.parse(raw.toString('utf8')) as { input_tokens?: unknown }).input_tokens;
      return typeof n === 'number' ? { raw } : undefined;
    } catch {
      return undefined;
    }
  }
}
