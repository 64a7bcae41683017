import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { BadRequestError } from '../../errors/bad-request.error.js';
import type { NormalizedUsage } from '../adapters/provider-adapter.js';
import type { ChatRequest, IngressFormat, IngressStreamEncoder } from './ingress-format.js';
import { MessagesStreamEncoder } from './messages-stream.encoder.js';
import { anthropicErrorType, claudeUsage, stopReason } from './messages-wire.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const block = z.looseObject({ type: z.string().min(1) });
const content = z.union([z.string(), z.array(block)]);

/**
 * What `/v1/messages` checks before a request goes anywhere: the fields every Anthropic request
 * needs, in Anthropic's types. Unknown fields are kept (a pass-through forwards them; the bridge
 * drops them).
 */
const messagesRequest = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content })).min(1),
  system: z
    .union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))])
    .optional(),
  stream: z.boolean().optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  tools: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
  tool_choice: z
    .looseObject({
      type: z.enum(['auto', 'any', 'tool', 'none']),
      name: z.string().optional(),
      disable_parallel_tool_use: z.boolean().optional(),
    })
    .optional(),
  thinking: z
    .looseObject({
      type: z.enum(['enabled', 'disabled']),
      budget_tokens: z.number().int().positive().optional(),
    })
    .optional(),
});

/** The `count_tokens` body: a messages request without `max_tokens`. */
export const countTokensRequest = messagesRequest.omit({ max_tokens: true });

/** Checks `body` against `schema`, as a 400 naming the first bad field. */
export function checkBody(schema: z.ZodType, body: unknown): void {
  const r = schema.safeParse(body);
  if (r.success) return;
  const issue = r.error.issues[0]!;
  const param = issue.path.map(String).join('.');
  throw new BadRequestError(`${param || 'body'}: ${issue.message}`, { param: param || null });
}

/** OpenAI's `reasoning_effort` for a thinking budget. */
export function effortFor(budget: number): 'low' | 'medium' | 'high' {
  return budget <= 4096 ? 'low' : budget <= 16_384 ? 'medium' : 'high';
}

function imageUrl(source: unknown): string | undefined {
  if (!isObj(source)) return undefined;
  if (source.type === 'base64' && typeof source.data === 'string' && typeof source.media_type === 'string')
    return `data:${source.media_type};base64,${source.data}`;
  if (source.type === 'url' && typeof source.url === 'string') return source.url;
  return undefined;
}

/** One content block as an OpenAI user content part (undefined: nothing an OpenAI model reads). */
function userPart(b: Json): Json | undefined {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: String(b.text ?? '') };
    case 'image': {
      const url = imageUrl(b.source);
      return url ? { type: 'image_url', image_url: { url } } : undefined;
    }
    case 'document': {
      const s = b.source;
      if (isObj(s) && s.type === 'text' && typeof s.data === 'string') return { type: 'text', text: s.data };
      if (isObj(s) && s.type === 'base64' && typeof s.data === 'string')
        return {
          type: 'file',
          file: {
            file_data: `data:${String(s.media_type ?? 'application/pdf')};base64,${s.data}`,
            filename: typeof b.title === 'string' ? b.title : 'document.pdf',
          },
        };
      return undefined;
    }
    default:
      // Claude's own reasoning (signed for Claude), and blocks only Anthropic serves (Files API
      // sources, search results, container uploads): a Claude channel gets them passed through;
      // a bridged request goes without them.
      return undefined;
  }
}

function toolResultText(c: unknown): { text: string; images: Json[] } {
  if (typeof c === 'string') return { text: c, images: [] };
  const images: Json[] = [];
  let text = '';
  for (const b of Array.isArray(c) ? c : []) {
    if (!isObj(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') text += text ? `\n${b.text}` : b.text;
    if (b.type === 'image') {
      const url = imageUrl(b.source);
      if (url) images.push({ type: 'image_url', image_url: { url } });
    }
  }
  return { text, images };
}

function toChatMessages(body: Json): Json[] {
  const out: Json[] = [];
  const sys = body.system;
  const system =
    typeof sys === 'string'
      ? sys
      : Array.isArray(sys)
        ? sys.map((b: Json) => String(b.text)).join('\n\n')
        : '';
  if (system) out.push({ role: 'system', content: system });

  (body.messages as Json[]).forEach((m) => {
    const blocks: Json[] =
      typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Json[]);
    if (m.role === 'assistant') {
      const text = blocks
        .filter((b) => b.type === 'text')
        .map((b) => String(b.text ?? ''))
        .join('');
      const calls = blocks
        .filter((b) => b.type === 'tool_use')
        .map((b) => ({
          id: String(b.id),
          type: 'function',
          function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) },
        }));
      const msg: Json = { role: 'assistant', content: text || null };
      if (calls.length > 0) msg.tool_calls = calls;
      if (text || calls.length > 0) out.push(msg);
      return;
    }
    // A user turn: its tool results first (each its own `tool` message), then the rest.
    const parts: Json[] = [];
    const resultImages: Json[] = [];
    blocks.forEach((b) => {
      if (b.type === 'tool_result') {
        const { text, images } = toolResultText(b.content);
        const prefix = b.is_error === true ? 'Error: ' : '';
        out.push({ role: 'tool', tool_call_id: String(b.tool_use_id), content: prefix + text });
        resultImages.push(...images);
        return;
      }
      const part = userPart(b);
      if (part) parts.push(part);
    });
    const all = [...resultImages, ...parts];
    if (all.length === 0) return;
    const textOnly = all.every((p) => p.type === 'text');
    out.push({ role: 'user', content: textOnly ? all.map((p) => String(p.text)).join('\n') : all });
  });
  return out;
}

function toChatTools(tools: Json[]): Json[] {
  // Anthropic's server tools (web search, code execution…) run at Anthropic: other providers have
  // none, so a bridged request goes without them (a Claude channel gets them, passed through).
  return tools
    .filter((t) => typeof t.type !== 'string' || t.type === 'custom')
    .map((t) => {
      const fn: Json = {
        name: t.name,
        parameters: isObj(t.input_schema) ? t.input_schema : { type: 'object' },
      };
      if (typeof t.description === 'string') fn.description = t.description;
      return { type: 'function', function: fn };
    });
}

/** An Anthropic Messages request as an OpenAI chat request. */
export function messagesToChat(body: Json): ChatRequest {
  const chat: ChatRequest = { model: String(body.model), messages: toChatMessages(body) };
  chat.max_tokens = body.max_tokens;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    chat.tools = toChatTools(body.tools as Json[]);
    const tc = body.tool_choice;
    if (isObj(tc)) {
      if (tc.type === 'auto') chat.tool_choice = 'auto';
      else if (tc.type === 'any') chat.tool_choice = 'required';
      else if (tc.type === 'none') chat.tool_choice = 'none';
      else if (tc.type === 'tool')
        chat.tool_choice = { type: 'function', function: { name: String(tc.name) } };
      if (tc.disable_parallel_tool_use === true) chat.parallel_tool_calls = false;
    }
  }
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) chat.stop = body.stop_sequences;
  if (typeof body.temperature === 'number') chat.temperature = body.temperature;
  if (typeof body.top_p === 'number') chat.top_p = body.top_p;
  if (isObj(body.thinking) && body.thinking.type === 'enabled')
    chat.reasoning_effort = effortFor(
      typeof body.thinking.budget_tokens === 'number' ? body.thinking.budget_tokens : 0,
    );
  if (isObj(body.metadata) && typeof body.metadata.user_id === 'string' && body.metadata.user_id)
    chat.user = body.metadata.user_id;
  if (body.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

/** A tool call's JSON arguments as Claude's `input` object (`{}` when they are not an object). */
export function toolInput(args: unknown): Json {
  if (typeof args !== 'string' || !args.trim()) return {};
  try {
    const v: unknown = JSON.parse(args);
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

/** A message id for a bridged answer. */
export function messageId(id: string | undefined): string {
  return id && id.startsWith('msg_') ? id : `msg_${(id || randomUUID()).replace(/[^A-Za-z0-9_-]/g, '')}`;
}

/** An OpenAI chat completion as a Claude message. */
export function chatToMessage(completion: Json, usage: NormalizedUsage | undefined, model: string): Json {
  const choice =
    Array.isArray(completion.choices) && isObj(completion.choices[0]) ? completion.choices[0] : {};
  const msg = isObj(choice.message) ? choice.message : {};
  const contentBlocks: Json[] = [];
  if (typeof msg.reasoning_content === 'string' && msg.reasoning_content)
    contentBlocks.push({ type: 'thinking', thinking: msg.reasoning_content, signature: '' });
  if (typeof msg.content === 'string' && msg.content) contentBlocks.push({ type: 'text', text: msg.content });
  for (const tc of Array.isArray(msg.tool_calls) ? (msg.tool_calls as Json[]) : []) {
    const fn = isObj(tc.function) ? tc.function : {};
    contentBlocks.push({
      type: 'tool_use',
      id: String(tc.id),
      name: String(fn.name),
      input: toolInput(fn.arguments),
    });
  }
  return {
    id: messageId(typeof completion.id === 'string' ? completion.id : undefined),
    type: 'message',
    role: 'assistant',
    model,
    content: contentBlocks,
    stop_reason: stopReason(choice.finish_reason),
    stop_sequence: null,
    usage: claudeUsage(usage),
  };
}

/**
 * Anthropic's `/v1/messages`: validated here, passed through to Claude channels, bridged through
 * chat to every other channel.
 */
export class MessagesFormat implements IngressFormat {
  readonly endpoint = 'messages' as const;

  validate(body: Record<string, unknown>): void {
    checkBody(messagesRequest, body);
  }

  toChat(body: Record<string, unknown>): ChatRequest {
    return messagesToChat(body);
  }

  fromChat(completion: Record<string, unknown>, usage: NormalizedUsage | undefined, model: string): unknown {
    return chatToMessage(completion, usage, model);
  }

  streamEncoder(model: string, id: string): IngressStreamEncoder {
    return new MessagesStreamEncoder(model, messageId(id));
  }

  errorBody(err: { status: number; type: string; code: string | null; message: string }): unknown {
    return { type: 'error', error: { type: anthropicErrorType(err.status), message: err.message } };
  }
}
