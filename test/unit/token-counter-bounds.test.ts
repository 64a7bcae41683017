import { createRequire } from 'node:module';
import { expect } from 'chai';
import { bestOf } from '../helpers/latency-probe.js';
import {
  CHARS_PER_TOKEN_ESTIMATE,
  countPromptTokens,
  countStreamedTokens,
  countTextTokens,
  MAX_EXACT_COUNT_CHARS,
} from '../../lib/billing/token-counter.js';

const exactCount = (
  createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as {
    countTokens: (t: string) => number;
  }
).countTokens;

/**
 * Runs `work` while a 5 ms timer measures the longest time the event loop went without running
 * it: the longest stretch one count held the process (best of 3 runs: see bestOf).
 */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  const r = await bestOf(3, STALL_BOUND_MS, async () => {
    const once = await longestStallOnce(work);
    return { ...once, ms: once.stallMs };
  });
  return { value: r.value, stallMs: r.stallMs };
}

async function longestStallOnce<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    await new Promise((resolve) => setTimeout(resolve, 10));
    last = performance.now();
    const value = await work();
    stallMs = Math.max(stallMs, performance.now() - last);
    return { value, stallMs };
  } finally {
    clearInterval(timer);
  }
}

function randomLetters(n: number): string {
  let s = '';
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += String.fromCharCode(97 + (x % 26));
  }
  return s;
}

// The bound for one stretch of counting on the event loop; a count slices at 8 ms, the rest is
// headroom for a loaded 2-CPU machine. Before counting was bounded a 120k-letter word alone took
// seconds.
const STALL_BOUND_MS = 150;

describe('token counting is bounded (it never blocks the event loop)', () => {
  before(async () => {
    await countTextTokens('load the tokenizer tables');
  });

  it('counts ordinary text exactly, as the tokenizer does', async () => {
    const text = 'The quick brown fox jumps over the lazy dog.\n'.repeat(3000);
    expect(await countTextTokens(text)).to.equal(exactCount(text));
    const code = 'function f(a, b) { return a + b; } // sum\n'.repeat(2000);
    expect(await countTextTokens(code)).to.equal(exactCount(code));
  });

  it('an unbroken 120,000-letter word (the quadratic case) counts without stalling the loop', async () => {
    const { value, stallMs } = await longestStall(() => countTextTokens('x'.repeat(120_000)));
    expect(value).to.be.within(120_000 / 16, 120_000 / 2);
    expect(stallMs).to.be.below(STALL_BOUND_MS);
  });

  it('2 MB of one letter, and 2 MB of random letters, count in slices with an estimate beyond the cap', async () => {
    for (const text of ['x'.repeat(2_000_000), randomLetters(2_000_000)]) {
      const { value, stallMs } = await longestStall(() => countTextTokens(text));
      expect(stallMs).to.be.below(STALL_BOUND_MS);
      const estimated = Math.ceil((text.length - MAX_EXACT_COUNT_CHARS) / CHARS_PER_TOKEN_ESTIMATE);
      expect(value).to.be.greaterThan(estimated);
      expect(value).to.be.below(estimated + MAX_EXACT_COUNT_CHARS);
    }
  });

  it('a prompt of many huge messages shares one cap; a no-usage stream of 2 MB counts in slices', async () => {
    const messages = Array.from({ length: 10 }, () => ({ role: 'user', content: 'y'.repeat(300_000) }));
    const prompt = await longestStall(() => countPromptTokens('chat', { messages }));
    expect(prompt.stallMs).to.be.below(STALL_BOUND_MS);
    expect(prompt.value).to.be.greaterThan((3_000_000 - MAX_EXACT_COUNT_CHARS) / CHARS_PER_TOKEN_ESTIMATE);

    const event = `data: ${JSON.stringify({ choices: [{ delta: { content: 'x'.repeat(4000) } }] })}\n\n`;
    const sse = event.repeat(500);
    const streamed = await longestStall(() => countStreamedTokens(sse));
    expect(streamed.stallMs).to.be.below(STALL_BOUND_MS);
    expect(streamed.value).to.be.greaterThan(0);
  });
});
