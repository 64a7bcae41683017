import { randomBytes } from 'node:crypto';
import { BadRequestError } from '../../errors/bad-request.error.js';
import { SseReader, type SseEvent } from '../sse-reader.js';
import type { NormalizedUsage, StreamDecoder, StreamOptions } from './provider-adapter.js';

/**
 * What translating adapters (Gemini, Bedrock) share: reading an OpenAI chat request's parts and
 * writing OpenAI chat answers and `chat.completion.chunk` events. The request was only checked
 * for a model by the relay, so every read here turns a malformed field into a 400 naming it.
 */

export type Json = Record<string, unknown>;

/** One OpenAI chat message, as far as translation reads it. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: unknown;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  name?: string;
}

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A piece of a message's content: text, or an image given as a data: URL or an http(s) URL. */
export type ContentPiece =
  | { kind: 'text'; text: string }
  | { kind: 'image'; mimeType: string; data: string }
  | { kind: 'image-url'; url: string }
  | { kind: 'audio'; mimeType: string; data: string };

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

function bad(message: string, param: string): never {
  throw new BadRequestError(message, { param });
}

/** The request's `messages`, each checked for a known role and the fields its role needs. */
export function chatMessages(body: Json): ChatMessage[] {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    bad('`messages` must be a non-empty array of chat messages', 'messages');
  return messages.map((m: unknown, i) => {
    if (!m || typeof m !== 'object') bad(`messages[${i}] must be an object`, `messages[${i}]`);
    const msg = m as Json;
    if (typeof msg.role !== 'string' || !ROLES.has(msg.role))
      bad(
        `messages[${i}].role must be one of system, developer, user, assistant, tool`,
        `messages[${i}].role`,
      );
    if (msg.role === 'tool' && typeof msg.tool_call_id !== 'string')
      bad(`messages[${i}] (a tool message) needs a tool_call_id`, `messages[${i}].tool_call_id`);
    if (msg.tool_calls !== undefined && msg.tool_calls !== null) {
      if (!Array.isArray(msg.tool_calls))
        bad(`messages[${i}].tool_calls must be an array`, `messages[${i}].tool_calls`);
      msg.tool_calls.forEach((c: unknown, j) => {
        const call = c as Partial<ChatToolCall> | null;
        if (
          !call ||
          typeof call.id !== 'string' ||
          !call.function ||
          typeof call.function.name !== 'string' ||
          typeof call.function.arguments !== 'string'
        )
          bad(
            `messages[${i}].tool_calls[${j}] needs an id and a function with a name and arguments`,
            `messages[${i}].tool_calls[${j}]`,
          );
      });
    }
    return {
      ...(msg as unknown as ChatMessage),
      tool_calls: (msg.tool_calls as ChatToolCall[] | null | undefined) ?? undefined,
    };
  });
}

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)(?:;[^,;]*)*;base64,(.*)$/s;

/** A message's content as pieces (a string is one text piece; null or absent is none). */
export function contentPieces(content: unknown, param: string): ContentPiece[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) bad(`${param} must be a string or an array of content parts`, param);
  return content.map((p: unknown, i): ContentPiece => {
    const part = (p ?? {}) as Json;
    const where = `${param}[${i}]`;
    if (part.type === 'text' && typeof part.text === 'string') return { kind: 'text', text: part.text };
    if (part.type === 'image_url') {
      const url = (part.image_url as Json | undefined)?.url;
      if (typeof url !== 'string') bad(`${where}.image_url.url must be a string`, `${where}.image_url.url`);
      const m = DATA_URL.exec(url);
      if (m) return { kind: 'image', mimeType: m[1]!.toLowerCase(), data: m[2]! };
      if (/^https?:\/\//i.test(url)) return { kind: 'image-url', url };
      bad(`${where}.image_url.url must be a base64 data: URL or an http(s) URL`, `${where}.image_url.url`);
    }
    if (part.type === 'input_audio') {
      const audio = (part.input_audio ?? {}) as Json;
      if (typeof audio.data !== 'string' || (audio.format !== 'wav' && audio.format !== 'mp3'))
        bad(`${where}.input_audio needs base64 data and a format of wav or mp3`, `${where}.input_audio`);
      return {
        kind: 'audio',
        mimeType: audio.format === 'wav' ? 'audio/wav' : 'audio/mp3',
        data: audio.data,
      };
    }
    return bad(`${where}: content parts of type ${JSON.stringify(part.type)} are not supported here`, where);
  });
}

/** The text of content that may only hold text (system and tool messages). */
export function textOf(content: unknown, param: string): string {
  return contentPieces(content, param)
    .map((p) => {
      if (p.kind !== 'text') bad(`${param} may only hold text`, param);
      return p.text;
    })
    .join('');
}

/** A tool call's `arguments` as the object the provider wants. */
export function toolArguments(call: ChatToolCall, param: string): Json {
  let args: unknown;
  try {
    args = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch {
    bad(`${param}.function.arguments must be a JSON object`, `${param}.function.arguments`);
  }
  if (!args || typeof args !== 'object' || Array.isArray(args))
    bad(`${param}.function.arguments must be a JSON object`, `${param}.function.arguments`);
  return args as Json;
}

/** The request's function tools: name, description and the JSON Schema of their parameters. */
export interface FunctionTool {
  name: string;
  description?: string;
  parameters?: Json;
}

export function functionTools(body: Json): FunctionTool[] {
  if (body.tools === undefined || body.tools === null) return [];
  if (!Array.isArray(body.tools)) bad('`tools` must be an array', 'tools');
  return body.tools.map((t: unknown, i): FunctionTool => {
    const tool = (t ?? {}) as Json;
    const fn = tool.function as Json | undefined;
    if (tool.type !== 'function' || !fn || typeof fn.name !== 'string' || fn.name === '')
      bad(`tools[${i}] must be {"type":"function","function":{"name",…}}`, `tools[${i}]`);
    if (fn.parameters !== undefined && (typeof fn.parameters !== 'object' || fn.parameters === null))
      bad(`tools[${i}].function.parameters must be a JSON Schema object`, `tools[${i}].function.parameters`);
    return {
      name: fn.name,
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      ...(fn.parameters ? { parameters: fn.parameters as Json } : {}),
    };
  });
}

/** `tool_choice` read: absent, auto, none, required, or one named function. */
export type ToolChoice =
  { mode: 'auto' | 'none' | 'required' } | { mode: 'function'; name: string } | undefined;

export function toolChoice(body: Json): ToolChoice {
  const c = body.tool_choice;
  if (c === undefined || c === null) return undefined;
  if (c === 'auto' || c === 'none' || c === 'required') return { mode: c };
  const name = ((c as Json).function as Json | undefined)?.name;
  if (typeof c === 'object' && (c as Json).type === 'function' && typeof name === 'string')
    return { mode: 'function', name };
  return bad(
    '`tool_choice` must be auto, none, required or {"type":"function","function":{"name"}}',
    'tool_choice',
  );
}

/** `stop` as a list (OpenAI takes a string or up to 4 strings). */
export function stopSequences(body: Json): string[] | undefined {
  const s = body.stop;
  if (s === undefined || s === null) return undefined;
  if (typeof s === 'string') return [s];
  if (Array.isArray(s) && s.every((x) => typeof x === 'string')) return s as string[];
  return bad('`stop` must be a string or an array of strings', 'stop');
}

/** A numeric sampling field, when given. */
export function numberField(body: Json, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`\`${name}\` must be a number`, name);
  return v;
}

/** `max_completion_tokens`, or the older `max_tokens`. */
export function maxTokens(body: Json): number | undefined {
  const v = numberField(body, 'max_completion_tokens') ?? numberField(body, 'max_tokens');
  if (v !== undefined && (!Number.isInteger(v) || v < 1))
    bad('`max_completion_tokens` (or `max_tokens`) must be a positive integer', 'max_completion_tokens');
  return v;
}

/** A fresh id: `call_…` for tool calls, `chatcmpl-…` for answers. */
export function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

/** OpenAI's `usage` object for normalised counts. */
export function openAiUsage(u: NormalizedUsage): Json {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** One choice of a whole answer, OpenAI-shaped. */
export interface AnswerChoice {
  text: string;
  reasoning: string;
  toolCalls: ChatToolCall[];
  finishReason: FinishReason;
}

/** A whole `chat.completion` object. */
export function chatCompletion(
  id: string,
  model: string,
  choices: AnswerChoice[],
  usage: NormalizedUsage | undefined,
): Json {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: choices.map((c, index) => ({
      index,
      message: {
        role: 'assistant',
        content: c.text === '' && c.toolCalls.length > 0 ? null : c.text,
        ...(c.reasoning ? { reasoning_content: c.reasoning } : {}),
        ...(c.toolCalls.length > 0 ? { tool_calls: c.toolCalls } : {}),
        refusal: null,
      },
      logprobs: null,
      finish_reason: c.finishReason,
    })),
    ...(usage ? { usage: openAiUsage(usage) } : {}),
  };
}

/**
 * Writes the client's `chat.completion.chunk` events for a translated stream: the role first,
 * then deltas, a finish chunk per choice, the usage chunk when asked, and `[DONE]`. Keeps the
 * delivered events (up to `keepText` characters) for counting locally when no usage came.
 */
export class ChunkWriter {
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly started = new Set<number>();
  private kept = '';

  constructor(
    private readonly id: string,
    private readonly model: string,
    private readonly keepText: number,
  ) {}

  get delivered(): string {
    return this.kept;
  }

  private event(choices: unknown[], extra: Json = {}): string {
    return `data: ${JSON.stringify({
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices,
      ...extra,
    })}\n\n`;
  }

  private delta(index: number, delta: Json, finish: FinishReason | null = null): string {
    let out = '';
    if (!this.started.has(index)) {
      this.started.add(index);
      out += this.event([
        { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
      ]);
    }
    out += this.event([{ index, delta, logprobs: null, finish_reason: finish }]);
    // Whole events only, so the relay can read them back to count what was delivered.
    if (this.kept.length + out.length <= this.keepText) this.kept += out;
    return out;
  }

  text(index: number, text: string): string {
    if (text === '') return '';
    return this.delta(index, { content: text });
  }

  reasoning(index: number, text: string): string {
    if (text === '') return '';
    return this.delta(index, { reasoning_content: text });
  }

  /** The start of a tool call (name and id), with its first arguments if known. */
  toolCall(index: number, callIndex: number, id: string, name: string, args: string): string {
    return this.delta(index, {
      tool_calls: [{ index: callIndex, id, type: 'function', function: { name, arguments: args } }],
    });
  }

  /** More arguments of a tool call already started. */
  toolArguments(index: number, callIndex: number, args: string): string {
    if (args === '') return '';
    return this.delta(index, { tool_calls: [{ index: callIndex, function: { arguments: args } }] });
  }

  finish(index: number, reason: FinishReason): string {
    return this.delta(index, {}, reason);
  }

  /** The closing events: the usage chunk (when asked and known), then `[DONE]`. */
  end(usage: NormalizedUsage | undefined, clientWantsUsage: boolean): string {
    const usageChunk = clientWantsUsage && usage ? this.event([], { usage: openAiUsage(usage) }) : '';
    return usageChunk + 'data: [DONE]\n\n';
  }
}

/** The `data:` payloads of an SSE byte stream's complete events (events without data are skipped). */
export class SseDataReader {
  private readonly reader = new SseReader();

  push(chunk: Buffer): string[] {
    return dataOf(this.reader.push(chunk));
  }

  /** Whatever complete event the upstream left without its blank line at the end. */
  end(): string[] {
    return dataOf(this.reader.end());
  }
}

function dataOf(events: SseEvent[]): string[] {
  return events.map((e) => e.data).filter((d) => d !== '');
}

/**
 * What every decoder that translates a provider's stream into OpenAI chunk events shares: the
 * chunk writer (which keeps the delivered events for local counting), the usage read so far,
 * and a failure met after other events of the same chunk (thrown at the next push or the end).
 */
export abstract class ChunkStreamDecoder implements StreamDecoder {
  protected readonly writer: ChunkWriter;
  protected lastUsage: NormalizedUsage | undefined;
  /** Set by the decoder when `lastUsage` is the whole answer's (see StreamDecoder.usageFinal). */
  protected lastUsageFinal = false;
  protected failure: unknown;

  constructor(protected readonly opts: StreamOptions) {
    this.writer = new ChunkWriter(opts.id, opts.model, opts.keepText);
  }

  get usage(): NormalizedUsage | undefined {
    return this.lastUsage;
  }

  get usageFinal(): boolean {
    return this.lastUsageFinal;
  }

  get delivered(): string {
    return this.writer.delivered;
  }

  get pendingFailure(): unknown {
    return this.failure;
  }

  abstract push(chunk: Buffer): string;
  abstract end(): string;
}
