import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import {
  ChunkStreamDecoder,
  chatCompletion,
  newId,
  type AnswerChoice,
  type FinishReason,
  type Json,
} from '../chat-translation.js';
import { UpstreamStreamError, type NormalizedUsage } from '../provider-adapter.js';
import { exceptionKind } from './bedrock-errors.js';

/** Bedrock Converse answers (whole, or ConverseStream's binary event stream) as OpenAI chat answers. */

interface ConverseUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

interface ContentBlock {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  reasoningContent?: { reasoningText?: { text?: string } };
}

/** Converse's `stopReason` as OpenAI's `finish_reason`. */
export function bedrockFinish(reason: string | undefined): FinishReason {
  switch (reason) {
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** Converse's usage: input tokens exclude cache reads and writes, which the prompt includes. */
export function bedrockUsage(u: ConverseUsage | undefined): NormalizedUsage | undefined {
  if (!u || (u.inputTokens === undefined && u.outputTokens === undefined)) return undefined;
  const read = u.cacheReadInputTokens ?? 0;
  const write = u.cacheWriteInputTokens ?? 0;
  return {
    promptTokens: (u.inputTokens ?? 0) + read + write,
    completionTokens: u.outputTokens ?? 0,
    cachedTokens: read,
    cacheWriteTokens: write,
  };
}

/** A whole Converse answer as an OpenAI `chat.completion`. */
export function decodeConverse(
  raw: Buffer,
  model: string,
): { json: Json; usage: NormalizedUsage | undefined } {
  const res = JSON.parse(raw.toString('utf8')) as {
    output?: { message?: { content?: ContentBlock[] } };
    stopReason?: string;
    usage?: ConverseUsage;
  };
  if (!res || typeof res !== 'object' || !res.output) throw new SyntaxError('not a Converse answer');
  const choice: AnswerChoice = {
    text: '',
    reasoning: '',
    toolCalls: [],
    finishReason: bedrockFinish(res.stopReason),
  };
  for (const block of res.output.message?.content ?? []) {
    if (typeof block.text === 'string') choice.text += block.text;
    else if (block.toolUse) {
      choice.toolCalls.push({
        id: block.toolUse.toolUseId ?? newId('call_'),
        type: 'function',
        function: { name: block.toolUse.name ?? '', arguments: JSON.stringify(block.toolUse.input ?? {}) },
      });
    } else if (block.reasoningContent?.reasoningText?.text)
      choice.reasoning += block.reasoningContent.reasoningText.text;
  }
  const usage = bedrockUsage(res.usage);
  return { json: chatCompletion(newId('chatcmpl-'), model, [choice], usage), usage };
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);
/** AWS event-stream frames are at most 16 MiB. */
const MAX_FRAME = 16 * 1024 * 1024;

/**
 * ConverseStream's `application/vnd.amazon.eventstream` frames. Each frame starts with its
 * total length (4 bytes, big-endian); whole frames go to the AWS codec, which checks both CRCs
 * and parses the headers. Events become chunks; exception frames become {@link UpstreamStreamError}.
 */
export class BedrockStreamDecoder extends ChunkStreamDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  /** contentBlockIndex → OpenAI tool call index, for blocks that are tool calls. */
  private readonly toolBlocks = new Map<number, number>();
  private finished = false;

  push(chunk: Buffer): string {
    if (this.failure) throw this.failure;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let out = '';
    try {
      while (this.buffer.length >= 4) {
        const length = this.buffer.readUInt32BE(0);
        // A frame is at least its prelude and CRCs; a wild length is a broken stream, not a wait.
        if (length < 16 || length > MAX_FRAME)
          throw new SyntaxError(`an event-stream frame of ${length} bytes`);
        if (this.buffer.length < length) break;
        const frame = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        out += this.message(codec.decode(frame));
      }
    } catch (err) {
      // Events decoded before the failure in this same chunk still reach the client first.
      if (out === '') throw err;
      this.failure = err;
    }
    return out;
  }

  end(): string {
    if (this.failure) throw this.failure;
    if (this.buffer.length > 0) throw new SyntaxError('the event stream ended inside a frame');
    const finish = this.finished ? '' : this.writer.finish(0, 'stop');
    return finish + this.writer.end(this.lastUsage, this.opts.clientWantsUsage);
  }

  private message(msg: { headers: Record<string, { value: unknown }>; body: Uint8Array }): string {
    const header = (name: string) => {
      const v = msg.headers[name]?.value;
      return typeof v === 'string' ? v : null;
    };
    const type = header(':message-type');
    const text = Buffer.from(msg.body).toString('utf8');
    if (type === 'exception' || type === 'error') {
      const name = header(':exception-type') ?? header(':error-code');
      let message = header(':error-message') ?? text;
      try {
        const body = JSON.parse(text) as { message?: unknown; Message?: unknown };
        const m = body.message ?? body.Message;
        if (typeof m === 'string') message = m;
      } catch {
        // The message is the frame's text.
      }
      const kind = exceptionKind(name);
      throw new UpstreamStreamError(message, {
        message,
        code: name,
        type: name,
        ...(kind ? { kind } : {}),
      });
    }
    if (type !== 'event') return '';
    return this.event(header(':event-type'), JSON.parse(text) as Json);
  }

  private event(name: string | null, e: Json): string {
    switch (name) {
      case 'contentBlockStart': {
        const toolUse = (e.start as Json | undefined)?.toolUse as
          { toolUseId?: string; name?: string } | undefined;
        if (!toolUse) return '';
        const callIndex = this.toolBlocks.size;
        this.toolBlocks.set(Number(e.contentBlockIndex ?? 0), callIndex);
        return this.writer.toolCall(
          0,
          callIndex,
          toolUse.toolUseId ?? newId('call_'),
          toolUse.name ?? '',
          '',
        );
      }
      case 'contentBlockDelta': {
        const delta = (e.delta ?? {}) as {
          text?: string;
          toolUse?: { input?: string };
          reasoningContent?: { text?: string };
        };
        if (typeof delta.text === 'string') return this.writer.text(0, delta.text);
        if (delta.toolUse) {
          const callIndex = this.toolBlocks.get(Number(e.contentBlockIndex ?? 0));
          if (callIndex === undefined) return '';
          return this.writer.toolArguments(0, callIndex, delta.toolUse.input ?? '');
        }
        if (typeof delta.reasoningContent?.text === 'string')
          return this.writer.reasoning(0, delta.reasoningContent.text);
        return '';
      }
      case 'messageStop':
        this.finished = true;
        return this.writer.finish(0, bedrockFinish(e.stopReason as string | undefined));
      case 'metadata':
        this.lastUsage = bedrockUsage(e.usage as ConverseUsage | undefined) ?? this.lastUsage;
        // ConverseStream's metadata event closes the stream with the whole answer's usage.
        this.lastUsageFinal = this.lastUsage !== undefined;
        return '';
      default:
        // messageStart, contentBlockStop: nothing to tell the client.
        return '';
    }
  }
}
