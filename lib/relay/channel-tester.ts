import { routedChannel, type RoutedChannel } from '../cfg/routing-index.js';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import { UpstreamError } from '../errors/upstream.error.js';
import { upstreamModel } from '../routing/channel-selector.js';
import type { AdapterRegistry } from './adapters/index.js';
import type { UpstreamCaller } from './upstream-call.js';
import { classifyTransportError, type UpstreamClient } from './upstream-client.js';
import { UpstreamAddressDeniedError } from './upstream-policy.js';
import { upstreamFailure, type AttemptFailure, type AutoDisableRules } from './upstream-failure.js';

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
 * key, whatever its status, through the same adapter path as the relay, and reports whether it
 * answered, how fast, and what it said.
 */
export class ChannelTester {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly calls: UpstreamCaller,
    private readonly adapters: AdapterRegistry,
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
    const settings = this.adapters.settingsOf(adapter, channel);
    const started = performance.now();
    const done = (r: Omit<ChannelTestResult, 'latencyMs' | 'model'>): ChannelTestResult => ({
      ...r,
      model,
      latencyMs: Math.round(performance.now() - started),
    });
    const failed = (f: AttemptFailure, status: number | null) =>
      done({
        ok: false,
        status,
        unusable: f.kind === 'unusable',
        message: this.messageOf(f),
      });
    const call = await this.calls.open(
      adapter,
      { channel, settings, endpoint: 'chat', body, stream: false },
      this.opts.timeoutMs,
    );
    if ('retry' in call) return failed(call, null);
    const head = await this.calls.head(call, this.opts.autoDisableOn);
    const status = call.exchange.statusCode || null;
    if (head) return failed(head, status);
    const answer = await this.calls.whole(call, MAX_BODY);
    if ('retry' in answer) return failed(answer, status);
    return done({ ok: true, status, unusable: false, message: null });
  }

  /** The upstream's own model list, for an operator filling in `models`. */
  async upstreamModels(ch: ChannelRecord): Promise<string[]> {
    const adapter = this.adapters.get(ch.type);
    if (!adapter) throw new UpstreamError(502, `Channel type ${ch.type} is not supported`);
    const channel = routedChannel(ch, this.decrypt);
    const request = await adapter.listModels(channel, this.adapters.settingsOf(adapter, channel));
    const exchange = this.upstream.send(request, channel.timeouts, this.opts.timeoutMs);
    const failed = (why: string) =>
      new UpstreamError(502, `Could not list the models of channel ${ch.id}: ${why}`.slice(0, 600));
    let raw: Buffer;
    try {
      await exchange.response;
      raw = await exchange.collect(MAX_BODY);
    } catch (err) {
      throw failed(
        err instanceof UpstreamAddressDeniedError
          ? err.message
          : `transport error: ${classifyTransportError(err)}`,
      );
    }
    if (exchange.statusCode >= 400) {
      const f = upstreamFailure(
        exchange.statusCode,
        adapter.readError(exchange.statusCode, raw.toString('utf8')),
        ch.id,
        undefined,
        this.opts.autoDisableOn,
        channel.apiKey,
      );
      throw failed(f.detail ?? f.error.message);
    }
    try {
      return adapter.readModels(raw);
    } catch (err) {
      throw failed(
        err instanceof SyntaxError && /data list/.test(err.message) ? err.message : 'the answer is not JSON',
      );
    }
  }

  /** What a failed test reports: the upstream's words (for the operator), or the failure. */
  private messageOf(f: AttemptFailure): string {
    if (f.reason === 'budget') return `no answer within ${this.opts.timeoutMs} ms (CHANNEL_TEST_TIMEOUT)`;
    if (f.reason === 'bad_body') return 'the answer is not JSON';
    // An address the upstream policy refused says why (UPSTREAM_DENY_PRIVATE, the gateway itself).
    if (f.reason === 'connect' && f.detail) return f.detail;
    if (['connect', 'timeout', 'reset', 'aborted'].includes(f.reason)) return `transport error: ${f.reason}`;
    return (f.detail ?? f.error.message).slice(0, 500);
  }
}
