import { createRequire } from 'node:module';
import type { Endpoint } from '../relay/adapters/provider-adapter.js';

/**
 * Local token counts, for when an upstream reports no usage (or the client went away before
 * it did), with the o200k_base tokenizer of OpenAI's current models (gpt-tokenizer). Other
 * providers tokenize differently: then these counts are an estimate, which is why an upstream's
 * own usage always wins.
 */

let counter: ((text: string) => number) | undefined;

/**
 * The tokenizer is loaded on first use, not at start: its tables take about 70 MB of memory,
 * which a gateway whose upstreams all report usage never needs.
 */
function countTokens(text: string): number {
  if (text === '') return 0;
  counter ??= (
    createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as {
      countTokens: (t: string) => number;
    }
  ).countTokens;
  return counter(text);
}

/** Tokens OpenAI adds per chat message (role and separators) and to prime the answer. */
const PER_MESSAGE = 3;
const PER_REPLY = 3;

/** Text parts of a message content: a string, or an array of parts with `text`. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) => (p && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
    .join('');
}

function textsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The prompt's tokens: chat messages, a completion prompt, or embedding inputs. */
export function countPromptTokens(endpoint: Endpoint, body: Record<string, unknown>): number {
  if (endpoint === 'chat') {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    let n = PER_REPLY;
    for (const m of messages as Record<string, unknown>[]) {
      n += PER_MESSAGE + countTokens(contentText(m?.content));
      if (typeof m?.name === 'string') n += countTokens(m.name) + 1;
    }
    return n;
  }
  const texts = textsOf(endpoint === 'embeddings' ? body.input : body.prompt);
  return texts.reduce((n, t) => n + countTokens(t), 0);
}

/** The text a (non-streamed) answer carries: message contents, tool call arguments, completion texts. */
export function answerText(json: unknown): string {
  const choices = (json as { choices?: unknown })?.choices;
  if (!Array.isArray(choices)) return '';
  let out = '';
  for (const c of choices as Record<string, unknown>[]) {
    const part = (c?.message ?? c?.delta) as Record<string, unknown> | undefined;
    if (typeof c?.text === 'string') out += c.text;
    if (part) {
      out += contentText(part.content);
      const calls = part.tool_calls;
      if (Array.isArray(calls)) {
        for (const t of calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
          if (typeof t?.function?.name === 'string') out += t.function.name;
          if (typeof t?.function?.arguments === 'string') out += t.function.arguments;
        }
      }
    }
  }
  return out;
}

/** The tokens of the text streamed in SSE events (`data: {...}` lines). */
export function countStreamedTokens(events: string): number {
  let text = '';
  for (const line of events.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '' || data === '[DONE]') continue;
    try {
      text += answerText(JSON.parse(data));
    } catch {
      // A broken event: nothing countable in it.
    }
  }
  return countTokens(text);
}

/** The tokens of a text. */
export function countTextTokens(text: string): number {
  return countTokens(text);
}

/** A cheap upper-side guess of the prompt's tokens from its size, for the hold and the TPM check. */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 4);
}
