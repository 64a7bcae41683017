/**
 * The bounded tokenization shared by the token counter (main thread) and its worker: how a count
 * is cut into pieces and runs, and where the exact part of a count ends. No tokenizer here: the
 * worker loads it (see token-worker.ts).
 */

/**
 * The most characters of one count (a prompt, or an answer) that are tokenized; beyond it the
 * rest is estimated at {@link CHARS_PER_TOKEN_ESTIMATE} characters per token. 256k characters
 * take about 10 ms of CPU as prose and up to about 0.3 s as random letters (BPE's worst case).
 */
export const MAX_EXACT_COUNT_CHARS = 256 * 1024;
/** The estimate beyond {@link MAX_EXACT_COUNT_CHARS}: one token per 4 characters (rounded up). */
export const CHARS_PER_TOKEN_ESTIMATE = 4;
/** Texts are tokenized in pieces of about this many characters, cut at whitespace. */
export const PIECE_CHARS = 2048;
/**
 * The longest unbroken run of non-space characters tokenized as one piece. A BPE merge costs the
 * square of its word's length (a 20,000-letter word takes 0.4 s, 120,000 letters seconds), so a
 * longer run is cut into runs of this length; the count then differs from the exact one by at
 * most a token per cut, on text that is not language anyway.
 */
const MAX_RUN_CHARS = 64;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN_CHARS + 1},}`);
const SHORT_RUNS = new RegExp(`\\s*\\S{1,${MAX_RUN_CHARS}}|\\s+`, 'g');
/** A count in the worker gives its event loop back after this much CPU, so counts interleave. */
const SLICE_MS = 8;

/**
 * One text of a count as the worker gets it: tokenize its first `exact` characters. `text` is
 * cut {@link PIECE_CHARS} past `exact` (where a piece may look for whitespace), not sent whole.
 */
export interface ExactPart {
  text: string;
  exact: number;
}

/**
 * Splits a count's texts at the shared cap: the first {@link MAX_EXACT_COUNT_CHARS} characters
 * of all of them, in order, are to be tokenized (`parts`); the rest is estimated (`estimate`).
 */
export function planCount(texts: readonly string[]): { parts: ExactPart[]; estimate: number } {
  let budget = MAX_EXACT_COUNT_CHARS;
  let estimate = 0;
  const parts: ExactPart[] = [];
  for (const text of texts) {
    if (text === '') continue;
    const exact = Math.min(text.length, budget);
    budget -= exact;
    estimate += Math.ceil((text.length - exact) / CHARS_PER_TOKEN_ESTIMATE);
    if (exact > 0) parts.push({ text: text.slice(0, Math.min(text.length, exact + PIECE_CHARS)), exact });
  }
  return { parts, estimate };
}

/** The estimate of texts nobody tokenized (the worker is gone): a token per 4 characters. */
export function estimateTokens(texts: readonly string[]): number {
  let n = 0;
  for (const t of texts) n += Math.ceil(t.length / CHARS_PER_TOKEN_ESTIMATE);
  return n;
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

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Tokenizes the exact parts of one count in pieces, in time linear in their length (at most
 * {@link MAX_EXACT_COUNT_CHARS} characters in all), giving the loop back every {@link SLICE_MS}.
 */
export async function countExactParts(
  count: (text: string) => number,
  parts: readonly ExactPart[],
): Promise<number> {
  let n = 0;
  let sliceStart = performance.now();
  for (const { text, exact } of parts) {
    for (let start = 0; start < exact;) {
      const end = Math.min(pieceEnd(text, start), exact);
      n += countPiece(count, text.slice(start, end));
      start = end;
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
  }
  return n;
}
