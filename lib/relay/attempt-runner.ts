import type { TokenCounts } from '../billing/price-book.js';
import {
  answerText,
  countPromptTokens,
  countStreamedTokens,
  countTextTokens,
} from '../billing/token-counter.js';
import type { RoutedChannel } from '../cfg/routing-index.js';
import { UpstreamError } from '../errors/upstream.error.js';
import { upstreamModel } from '../routing/channel-selector.js';
import type { AdapterRegistry } from './adapters/index.js';
import { UpstreamStreamError, type NormalizedUsage } from './adapters/provider-adapter.js';
import { BridgeSink, DirectSink, type ClientSink } from './client-sink.js';
import type { RelayRequest } from './relay-request.js';
import { ClientGoneError, classifyTransportError, type UpstreamExchange } from './upstream-client.js';
import type { UpstreamCaller, UpstreamCall } from './upstream-call.js';
import { upstreamFailure, type AttemptFailure, type AutoDisableRules } from './upstream-failure.js';
import { transportFailure } from './transport-failure.js';

/** A failure after the answer started reaching the client: the channel's, but not retried. */
export interface CommittedFailure extends AttemptFailure {
  committed: true;
}

const MAX_JSON_BODY = 64 * 1024 * 1024;
/** How much of a stream is kept for counting its tokens when the upstream reports no usage. */
const MAX_COUNTED_STREAM = 4 * 1024 * 1024;

/** What the failover loop and an attempt share: the exchange to abort, the client's presence, what was delivered. */
export interface AttemptState {
  exchange: UpstreamExchange | undefined;
  clientGone: boolean;
  /** What reached the client of the successful or committed attempt. */
  counts?: TokenCounts;
  ttftMs?: number;
}

/** An attempt's answer: nothing (the answer reached the client) or why it failed. */
export type AttemptResult = AttemptFailure | undefined;

/** A stream the decoder could not read (malformed data, a frame that fails its checksum). */
class UnreadableStreamError extends Error {
  constructor(cause: unknown) {
    super('the upstream stream could not be read', { cause });
    this.name = 'UnreadableStreamError';
  }
}

/** Runs a step of decoding; what it throws, other than an in-stream error event, is an {@link UnreadableStreamError}. */
function unreadable<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof UpstreamStreamError) throw err;
    throw new UnreadableStreamError(err);
  }
}

function toCounts(u: NormalizedUsage): TokenCounts {
  return {
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    cachedTokens: Math.min(u.cachedTokens, u.promptTokens),
    cacheWriteTokens: Math.min(u.cacheWriteTokens, u.promptTokens),
  };
}

/**
 * One attempt of a relayed request on one channel: the adapter's request through the
 * {@link UpstreamCaller}, then the answer to the client through a {@link ClientSink} — whole, or
 * streamed event by event with back-pressure — and the tokens to bill for what reached the
 * client. The failover loop (`RelayService`) decides what a failure means for the channel.
 */
export class AttemptRunner {
  constructor(
    private readonly adapters: AdapterRegistry,
    private readonly upstream: UpstreamCaller,
    private readonly autoDisableOn: AutoDisableRules,
    /** The request's budget, named in a timeout's message. */
    private readonly totalTimeoutMs: number,
  ) {}

  /**
   * One upstream attempt. Returns nothing when the answer reached the client, else why it
   * failed (a {@link CommittedFailure} when it failed after the answer started).
   */
  async run(
    req: RelayRequest,
    channel: RoutedChannel,
    state: AttemptState,
    deadline: number,
  ): Promise<AttemptResult> {
    const adapter = this.adapters.get(channel.type);
    if (!adapter) {
      return {
        retry: true,
        reason: 'adapter',
        error: new UpstreamError(502, `Channel type ${channel.type} is not supported`),
      };
    }
    const settings = this.adapters.settingsOf(adapter, channel);
    const native = adapter.endpoints(settings);
    // An ingress format the channel does not speak is bridged through chat.
    const bridged = !native.has(req.endpoint) && req.ingress !== undefined && native.has('chat');
    if (!native.has(req.endpoint) && !bridged) {
      return {
        retry: true,
        reason: 'unsupported',
        error: new UpstreamError(400, `No channel for this model serves ${req.endpoint} requests`, {
          code: 'unsupported_endpoint',
        }),
      };
    }
    const stream = req.body.stream === true;
    const mapped = upstreamModel(channel, req.body.model);
    req.log.upstreamModel = mapped;
    const source = bridged ? req.ingress!.chat : req.body;
    const call = await this.upstream.open(
      adapter,
      {
        channel,
        settings,
        endpoint: bridged ? 'chat' : req.endpoint,
        body: { ...source, model: mapped },
        stream,
        ...(bridged ? {} : { clientHeaders: req.headers }),
      },
      Math.max(1, deadline - Date.now()),
    );
    if ('retry' in call) return call;
    state.exchange = call.exchange;
    if (state.clientGone) call.exchange.abort(new ClientGoneError());
    const failed = await this.upstream.head(call, this.autoDisableOn);
    if (failed) return failed;
    const sink: ClientSink = bridged
      ? new BridgeSink(req.res, req.ingress!.format, req.body.model, `chatcmpl-${req.requestId}`, req.body)
      : new DirectSink(req.res, req.ingress?.format);
    return stream ? this.pipeStream(req, call, sink, state, bridged) : this.whole(req, call, sink, state);
  }

  private async whole(
    req: RelayRequest,
    call: UpstreamCall,
    sink: ClientSink,
    state: AttemptState,
  ): Promise<AttemptResult> {
    const answer = await this.upstream.whole(call, MAX_JSON_BODY);
    if ('retry' in answer) return answer;
    call.exchange.commit();
    try {
      sink.whole(call.exchange.statusCode, answer);
    } catch {
      // Only a bridge translates here: an answer it cannot read is the upstream's fault.
      if (!req.res.headersSent)
        return {
          retry: true,
          reason: 'bad_body',
          kind: 'fault',
          error: new UpstreamError(502, "The upstream's answer could not be translated"),
        };
    }
    this.markFirstByte(req, state);
    state.counts = await this.counts(req, answer.usage, () => countTextTokens(answerText(answer.json)));
    return undefined;
  }

  /**
   * The tokens to bill for an answer that reached the client: the upstream's usage, else the
   * prompt and `completion()` counted locally (bounded, giving the event loop back: see
   * token-counter). With `atLeastDelivered` (a stream that ended early) the completion is at
   * least `completion()`, the upstream's partial usage notwithstanding. Nothing when billing is off.
   */
  private async counts(
    req: RelayRequest,
    usage: NormalizedUsage | undefined,
    completion: () => Promise<number>,
    atLeastDelivered = false,
  ): Promise<TokenCounts | undefined> {
    if (!req.billed) return undefined;
    if (usage && atLeastDelivered) {
      const counts = toCounts(usage);
      return { ...counts, completionTokens: Math.max(counts.completionTokens, await completion()) };
    }
    if (usage) return toCounts(usage);
    const promptTokens = req.ingress
      ? await countPromptTokens('chat', req.ingress.chat)
      : await countPromptTokens(req.endpoint, req.body);
    return { promptTokens, completionTokens: await completion(), cachedTokens: 0 };
  }

  private markFirstByte(req: RelayRequest, state: AttemptState): void {
    if (req.log.ttftMs === undefined && req.startedAt !== undefined)
      req.log.ttftMs = state.ttftMs = Date.now() - req.startedAt;
  }

  /**
   * Passes the stream through the adapter's decoder to the sink as events complete, with
   * back-pressure from the client. The answer starts (status, headers, `commit`) with the first
   * complete event: a failure before it is an ordinary failed attempt, retried elsewhere. Once
   * started the request is committed to this channel: a later failure ends the stream with an
   * error event (never half an event) and is returned as a {@link CommittedFailure}.
   */
  private async pipeStream(
    req: RelayRequest,
    call: UpstreamCall,
    sink: ClientSink,
    state: AttemptState,
    bridged: boolean,
  ): Promise<AttemptResult> {
    const { exchange, adapter } = call;
    const res = req.res;
    const clientWantsUsage =
      bridged || (req.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const decoder = adapter.streamDecoder(call.req, {
      clientWantsUsage,
      keepText: req.billed ? MAX_COUNTED_STREAM : 0,
      model: req.body.model,
      id: `chatcmpl-${req.requestId}`,
    });
    let started = false;
    const start = () => {
      started = true;
      exchange.commit();
      sink.start();
    };
    /**
     * No usage (an upstream that ignores include_usage, or a stream cut short): count what was
     * delivered. A stream that ended early is charged at least for what was delivered, unless
     * the upstream's final usage had come (Gemini's events carry the prompt count from the first
     * one on, the output count only in the last; some OpenAI-compatible upstreams send a running
     * count on every chunk).
     */
    const settle = async (complete: boolean) => {
      state.counts = await this.counts(
        req,
        decoder.usage,
        () => countStreamedTokens(decoder.delivered),
        !complete && !decoder.usageFinal,
      );
    };
    const onDrain = () => exchange.resume();
    res.on('drain', onDrain);
    try {
      // What the decoder (or a bridge's translation) throws is the body's fault; the exchange
      // ends at once on it (see UpstreamExchange.pipe).
      await exchange.pipe((chunk) =>
        unreadable(() => {
          const out = decoder.push(chunk);
          if (out.length === 0) return true;
          if (!started) start();
          this.markFirstByte(req, state);
          const flowing = sink.write(out);
          // The events before a failure went out; the failure ends the stream now.
          if (decoder.pendingFailure !== undefined) throw decoder.pendingFailure;
          return flowing;
        }),
      );
      unreadable(() => {
        const rest = decoder.end();
        if (!started) start();
        if (rest.length > 0) sink.write(rest);
      });
      sink.end(decoder.usage);
      await settle(true);
      return undefined;
    } catch (err) {
      // Only an answer that started reaching the client is billed; before that, the attempt failed.
      if (started) await settle(false);
      if (err instanceof UnreadableStreamError) {
        const failure: AttemptFailure = {
          retry: true,
          reason: 'bad_body',
          kind: 'fault',
          error: new UpstreamError(502, 'The upstream answered with a stream it could not read'),
        };
        if (!started) return failure;
        return this.breakStream(req, sink, 'bad_body', failure);
      }
      if (err instanceof UpstreamStreamError) {
        const failure = upstreamFailure(
          err.info.kind === 'rate_limited' ? 429 : 502,
          err.info,
          call.req.channel.id,
          undefined,
          this.autoDisableOn,
          call.req.channel.apiKey,
        );
        if (!started) return failure;
        return this.breakStream(req, sink, 'upstream_error', failure);
      }
      const kind = classifyTransportError(err);
      // The client went away: what it was sent is billed; not the channel's failure.
      if (kind === 'aborted' || res.destroyed)
        return started ? undefined : transportFailure('aborted', call.req.channel.id, this.totalTimeoutMs);
      if (!started) return transportFailure(kind, call.req.channel.id, this.totalTimeoutMs);
      return this.breakStream(req, sink, kind, {
        retry: false,
        reason: 'stream',
        kind: 'fault',
        error: new UpstreamError(502, 'stream'),
      });
    } finally {
      res.off('drain', onDrain);
    }
  }

  /** Ends a started stream with an error event after the last whole event; the failure is the channel's, not retried. */
  private breakStream(
    req: RelayRequest,
    sink: ClientSink,
    why: string,
    failure: AttemptFailure,
  ): CommittedFailure {
    const message = `The upstream stream broke off (${why}) (request id: ${req.requestId})`;
    sink.fail(message, 'stream_interrupted');
    return {
      ...failure,
      committed: true,
      retry: false,
      reason: failure.reason === 'stream' ? 'stream' : failure.reason,
      error: new UpstreamError(502, message),
    };
  }
}
