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
 * The most characters of one count (a prompt, or an answer) that are tokenized; beyond it the
 * rest is estimated at {@link CHARS_PER_TOKEN_ESTIMATE} characters per token. 256k characters
 * take about 10 ms of CPU as prose and up to about 0.3 s as random letters (BPE's worst case).
 */
export const MAX_EXACT_COUNT_CHARS = 256 * 1024;
/** The estimate beyond {@link MAX_EXACT_COUNT_CHARS}: one token per 4 characters (rounded up). */
export const CHARS_PER_TOKEN_ESTIMATE = 4;
/** A count gives the event loop back (setImmediate) after this much CPU time. */
const SLICE_MS = 8;
/** Texts are tokenized in pieces of about this many characters, cut at whitespace. */
const PIECE_CHARS = 2048;
/**
 * The longest unbroken run of non-space characters tokenized as one piece. A BPE merge costs the
 * square of its word's length (a 20,000-letter word takes 0.4 s, 120,000 letters seconds), so a
 * longer run is cut into runs of this length; the count then differs from the exact one by at
 * most a token per cut, on text that is not language anyway.
 */
const MAX_RUN_CHARS = 64;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN_CHARS + 1},}`);
const SHORT_RUNS = new RegExp(`\\s*\\S{1,${MAX_RUN_CHARS}}|\\s+`, 'g');

/**
 * Loads the tokenizer's tables now (about 0.5–1 s of CPU and 70 MB): the gateway calls it at
 * start when billing is on, so the first local count never holds up traffic while it loads.
 */
export function preloadTokenizer(): void {
  tokenizer();
}

function tokenizer(): (text: string) => number {
  counter ??= (
    createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as {
      countTokens: (t: string) => number;
    }
  ).countTokens;
  return counter;
}

/** Tokenizes one piece of at most {@link PIECE_CHARS} characters, cutting overlong runs. */
function countPiece(count: (text: string) => number, piece: string): number {
  if (!LONG_RUN.test(piece)) return count(piece);
  let n = 0;
  for (const m of piece.matchAll(SHORT_RUNS)) n += count(m[0]);
  return n;
}

/** Where the piece starting at `start` ends: at whitespace near {@link PIECE_CHARS}, else at it. */
function pieceEnd(text: string, start: number): number {
  const end = start + PIECE_CHARS;
  if (end >= text.length) return text.length;
  for (let i = end; i > end - MAX_RUN_CHARS; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13) return i;
  }
  return end;
}

/** What one count may still spend: exact characters left, and when its current slice began. */
interface Budget {
  chars: number;
  sliceStart: number;
}

function newBudget(): Budget {
  return { chars: MAX_EXACT_COUNT_CHARS, sliceStart: performance.now() };
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Counts a text's tokens in time linear in its length and bounded: the first
 * {@link MAX_EXACT_COUNT_CHARS} characters of the whole count (`budget`) are tokenized in
 * pieces, giving the event loop back every {@link SLICE_MS}; the rest is estimated.
 */
async function countTokens(text: string, budget: Budget): Promise<number> {
  if (text === '') return 0;
  const exact = Math.min(text.length, Math.max(0, budget.chars));
  budget.chars -= exact;
  let n = 0;
  if (exact > 0) {
    const count = tokenizer();
    for (let start = 0; start < exact;) {
      const end = Math.min(pieceEnd(text, start), exact);
      n += countPiece(count, text.slice(start, end));
      start = end;
      if (performance.now() - budget.sliceStart > SLICE_MS) {
        await yieldToLoop();
        budget.sliceStart = performance.now();
      }
    }
  }
  return n + Math.ceil((text.length - exact) / CHARS_PER_TOKEN_ESTIMATE);
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
export async function countPromptTokens(endpoint: Endpoint, body: Record<string, unknown>): Promise<number> {
  const budget = newBudget();
  if (endpoint === 'chat') {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    let n = PER_REPLY;
    for (const m of messages as Record<string, unknown>[]) {
      n += PER_MESSAGE + (await countTokens(contentText(m?.content), budget));
      if (typeof m?.name === 'string') n += (await countTokens(m.name, budget)) + 1;
      if (performance.now() - budget.sliceStart > SLICE_MS) {
        await yieldToLoop();
        budget.sliceStart = performance.now();
      }
    }
    return n;
  }
  let n = 0;
  for (const t of textsOf(endpoint === 'embeddings' ? body.input : body.prompt))
    n += await countTokens(t, budget);
  return n;
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
export function countStreamedTokens(events: string): Promise<number> {
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
  return countTokens(text, newBudget());
}

/** The tokens of a text. */
export function countTextTokens(text: string): Promise<number> {
  return countTokens(text, newBudget());
}

/** A cheap upper-side guess of the prompt's tokens from its size, for the hold and the TPM check. */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 4);
}
