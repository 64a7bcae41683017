import { routedChannel, type RoutedChannel } from '../cfg/routing-index.js';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import { upstreamModel } from '../routing/channel-selector.js';
import type { ProviderAdapter } from './adapters/provider-adapter.js';
import { classifyTransportError, type UpstreamClient } from './upstream-client.js';
import { UpstreamAddressDeniedError } from './upstream-policy.js';
import { upstreamFailure, type AutoDisableRules } from './upstream-failure.js';
import { UpstreamError } from '../errors/upstream.error.js';

/** What one channel test found. */
export interface ChannelTestResult {
  ok: boolean;
  latencyMs: number;
  /** The upstream's HTTP status; null when none came. */
  status: number | null;
  model: string;
  /** Why it failed (the upstream's words, or the transport error); null when it passed. */
  message: string | null;
  /** The answer means the account is unusable (`AUTO_DISABLE_ON`). */
  unusable: boolean;
}

const MAX_BODY = 1024 * 1024;

/**
 * Sends a channel a tiny real request (a one-word chat completion, `max_tokens` 1) with its own
 * key, whatever its status, and reports whether it answered, how fast, and what it said.
 */
export class ChannelTester {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly adapters: ReadonlyMap<string, ProviderAdapter>,
    private readonly decrypt: (keyEnc: string) => string,
    private readonly opts: { timeoutMs: number; autoDisableOn: AutoDisableRules },
  ) {}

  /** The model a test asks for: the one given, else the channel's `test_model`, else its first model. */
  static modelFor(ch: ChannelRecord, model?: string): string | undefined {
    return model ?? ch.testModel ?? ch.models[0] ?? Object.keys(ch.modelMapping)[0];
  }

  async test(ch: ChannelRecord, requested?: string): Promise<ChannelTestResult> {
    const model = ChannelTester.modelFor(ch, requested);
    const adapter = this.adapters.get(ch.type);
    if (!model || !adapter) {
      return {
        ok: false,
        latencyMs: 0,
        status: null,
        model: model ?? '',
        unusable: false,
        message: model
          ? `channel type ${ch.type} is not supported`
          : 'the channel lists no model: set test_model',
      };
    }
    let channel: RoutedChannel;
    try {
      channel = routedChannel(ch, this.decrypt);
    } catch (err) {
      // A key SECRET_KEY cannot decrypt fails this channel's test, not the whole round.
      return {
        ok: false,
        latencyMs: 0,
        status: null,
        model,
        unusable: false,
        message: (err as Error).message,
      };
    }
    const body = {
      model: upstreamModel(channel, model),
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    };
    const started = performance.now();
    const exchange = this.upstream.send(
      adapter.prepare(channel, 'chat', body),
      channel.timeouts,
      this.opts.timeoutMs,
    );
    const done = (r: Omit<ChannelTestResult, 'latencyMs' | 'model'>): ChannelTestResult => ({
      ...r,
      model,
      latencyMs: Math.round(performance.now() - started),
    });
    try {
      await exchange.response;
      const text = (await exchange.collect(MAX_BODY)).toString('utf8');
      if (exchange.statusCode >= 400) {
        const failure = this.failureOf(exchange.statusCode, text, ch.id, channel.apiKey);
        return done({
          ok: false,
          status: exchange.statusCode,
          unusable: failure.kind === 'unusable',
          message: (failure.detail ?? failure.error.message).slice(0, 500),
        });
      }
      try {
        JSON.parse(text);
      } catch {
        return done({
          ok: false,
          status: exchange.statusCode,
          unusable: false,
          message: 'the answer is not JSON',
        });
      }
      return done({ ok: true, status: exchange.statusCode, unusable: false, message: null });
    } catch (err) {
      const kind = classifyTransportError(err);
      const message =
        err instanceof UpstreamAddressDeniedError
          ? err.message
          : kind === 'budget'
            ? `no answer within ${this.opts.timeoutMs} ms (CHANNEL_TEST_TIMEOUT)`
            : `transport error: ${kind}`;
      return done({ ok: false, status: null, unusable: false, message });
    }
  }

  /** The upstream's own model list (`GET /v1/models`), for an operator filling in `models`. */
  async upstreamModels(ch: ChannelRecord): Promise<string[]> {
    const adapter = this.adapters.get(ch.type);
    if (!adapter) throw new UpstreamError(502, `Channel type ${ch.type} is not supported`);
    const channel = routedChannel(ch, this.decrypt);
    const exchange = this.upstream.send(adapter.listModels(channel), channel.timeouts, this.opts.timeoutMs);
    const failed = (why: string) =>
      new UpstreamError(502, `Could not list the models of channel ${ch.id}: ${why}`.slice(0, 600));
    let text: string;
    try {
      await exchange.response;
      text = (await exchange.collect(MAX_BODY)).toString('utf8');
    } catch (err) {
      throw failed(
        err instanceof UpstreamAddressDeniedError
          ? err.message
          : `transport error: ${classifyTransportError(err)}`,
      );
    }
    if (exchange.statusCode >= 400) {
      const failure = this.failureOf(exchange.statusCode, text, ch.id, channel.apiKey);
      throw failed(failure.detail ?? failure.error.message);
    }
    let json: { data?: { id?: unknown }[] };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw failed('the answer is not JSON');
    }
    if (!Array.isArray(json.data)) throw failed('the answer has no data list');
    return json.data.map((m) => m?.id).filter((id): id is string => typeof id === 'string');
  }

  private failureOf(status: number, text: string, channelId: number, key: string) {
    return upstreamFailure(status, text, channelId, undefined, this.opts.autoDisableOn, key);
  }
}
