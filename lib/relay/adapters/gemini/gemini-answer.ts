import {
  ChunkStreamDecoder,
  SseDataReader,
  chatCompletion,
  newId,
  type AnswerChoice,
  type FinishReason,
  type Json,
} from '../chat-translation.js';
import { UpstreamStreamError, type NormalizedUsage } from '../provider-adapter.js';
import { readGeminiError } from './gemini-errors.js';
import { THOUGHT_SIGNATURE } from './gemini-request.js';

/**
 * Gemini answers (`GenerateContentResponse`, whole or as SSE events) as OpenAI chat answers:
 * every part of every candidate, function calls with generated ids, finish reasons and usage.
 */

interface Part {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { name?: string; args?: unknown; id?: string };
}

interface Candidate {
  index?: number;
  content?: { parts?: Part[] };
  finishReason?: string;
}

interface UsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

export interface GenerateContentResponse {
  candidates?: Candidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: UsageMetadata;
  responseId?: string;
  error?: unknown;
}

const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Gemini's `finishReason` as OpenAI's (a stop after function calls is `tool_calls`). */
export function finishReason(reason: string | undefined, calledTools: boolean): FinishReason {
  if (reason && FILTERED.has(reason)) return 'content_filter';
  if (reason === 'MAX_TOKENS') return 'length';
  return calledTools ? 'tool_calls' : 'stop';
}

/**
 * `usageMetadata` normalised: the prompt count already includes cached content; thoughts are
 * billed as output, so they are added to the candidates' count and shown as reasoning.
 */
export function geminiUsage(u: UsageMetadata | undefined): NormalizedUsage | undefined {
  if (!u || (u.promptTokenCount === undefined && u.candidatesTokenCount === undefined)) return undefined;
  const thoughts = u.thoughtsTokenCount ?? 0;
  return {
    promptTokens: (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0),
    completionTokens: (u.candidatesTokenCount ?? 0) + thoughts,
    cachedTokens: u.cachedContentTokenCount ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: thoughts,
  };
}

function callOf(p: Part): { id: string; name: string; args: string } {
  const id = p.functionCall!.id ?? newId('call_');
  return {
    // The call's thought signature rides in its id, the one field a client sends back as it got it.
    id: p.thoughtSignature ? `${id}${THOUGHT_SIGNATURE}${p.thoughtSignature}` : id,
    name: p.functionCall!.name ?? '',
    args: JSON.stringify(p.functionCall!.args ?? {}),
  };
}

/** A whole answer's choices (one per candidate, in index order). */
export function answerChoices(res: GenerateContentResponse): AnswerChoice[] {
  const candidates = [...(res.candidates ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  if (candidates.length === 0) {
    // The prompt itself was blocked: no candidate at all.
    const blocked = res.promptFeedback?.blockReason !== undefined;
    return [{ text: '', reasoning: '', toolCalls: [], finishReason: blocked ? 'content_filter' : 'stop' }];
  }
  return candidates.map((c) => {
    const choice: AnswerChoice = { text: '', reasoning: '', toolCalls: [], finishReason: 'stop' };
    for (const p of c.content?.parts ?? []) {
      if (p.functionCall) {
        const call = callOf(p);
        choice.toolCalls.push({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.args },
        });
      } else if (typeof p.text === 'string') {
        if (p.thought) choice.reasoning += p.text;
        else choice.text += p.text;
      }
    }
    choice.finishReason = finishReason(c.finishReason, choice.toolCalls.length > 0);
    return choice;
  });
}

/** A whole `generateContent` answer as an OpenAI `chat.completion`. */
export function decodeGeminiAnswer(
  raw: Buffer,
  model: string,
): { json: Json; usage: NormalizedUsage | undefined } {
  const res = JSON.parse(raw.toString('utf8')) as GenerateContentResponse;
  if (!res || typeof res !== 'object') throw new SyntaxError('not a GenerateContentResponse');
  const choices = answerChoices(res);
  const usage = geminiUsage(res.usageMetadata);
  const id = res.responseId ? `chatcmpl-${res.responseId}` : newId('chatcmpl-');
  return { json: chatCompletion(id, model, choices, usage), usage };
}

/** `streamGenerateContent?alt=sse`: each event a `GenerateContentResponse` with the next parts. */
export class GeminiStreamDecoder extends ChunkStreamDecoder {
  private readonly reader = new SseDataReader();
  /** Per candidate: tool calls so far, and whether its finish was sent. */
  private readonly calls = new Map<number, number>();
  private readonly finished = new Set<number>();
  private readonly seen = new Set<number>();

  push(chunk: Buffer): string {
    if (this.failure) throw this.failure;
    return this.events(this.reader.push(chunk));
  }

  end(): string {
    if (this.failure) throw this.failure;
    let out = this.events(this.reader.end());
    if (this.failure) throw this.failure;
    for (const index of this.seen) {
      if (!this.finished.has(index))
        out += this.writer.finish(index, finishReason(undefined, this.calls.has(index)));
    }
    return out + this.writer.end(this.lastUsage, this.opts.clientWantsUsage);
  }

  private events(datas: string[]): string {
    let out = '';
    try {
      for (const data of datas) out += this.event(JSON.parse(data) as GenerateContentResponse);
    } catch (err) {
      // Events decoded before the failure in this same chunk still reach the client first.
      if (out === '') throw err;
      this.failure = err;
    }
    return out;
  }

  private event(res: GenerateContentResponse): string {
    if (res.error !== undefined) {
      const info = readGeminiError(0, JSON.stringify(res));
      throw new UpstreamStreamError(info.message, info);
    }
    let out = '';
    if (res.usageMetadata) {
      this.lastUsage = geminiUsage(res.usageMetadata) ?? this.lastUsage;
      // The events before the last carry the prompt count only; the one with the finish reason has the whole answer's.
      this.lastUsageFinal = (res.candidates ?? []).some((c) => c.finishReason !== undefined);
    }
    const candidates = res.candidates ?? [];
    if (candidates.length === 0 && res.promptFeedback?.blockReason && !this.finished.has(0)) {
      this.seen.add(0);
      this.finished.add(0);
      out += this.writer.finish(0, 'content_filter');
    }
    for (const c of candidates) {
      const index = c.index ?? 0;
      this.seen.add(index);
      for (const p of c.content?.parts ?? []) {
        if (p.functionCall) {
          const n = this.calls.get(index) ?? 0;
          this.calls.set(index, n + 1);
          const call = callOf(p);
          out += this.writer.toolCall(index, n, call.id, call.name, call.args);
        } else if (typeof p.text === 'string') {
          out += p.thought ? this.writer.reasoning(index, p.text) : this.writer.text(index, p.text);
        }
      }
      if (c.finishReason && !this.finished.has(index)) {
        this.finished.add(index);
        out += this.writer.finish(index, finishReason(c.finishReason, this.calls.has(index)));
      }
    }
    return out;
  }
}

/** `batchEmbedContents`' answer as OpenAI's embeddings list (base64 when the client asked). */
export function decodeGeminiEmbeddings(raw: Buffer, model: string, base64: boolean): Json {
  const res = JSON.parse(raw.toString('utf8')) as { embeddings?: { values?: number[] }[] };
  if (!Array.isArray(res.embeddings)) throw new SyntaxError('not a BatchEmbedContentsResponse');
  return {
    object: 'list',
    model,
    data: res.embeddings.map((e, index) => {
      const values = e.values ?? [];
      return {
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values,
      };
    }),
  };
}
