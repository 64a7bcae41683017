import { expect } from 'chai';
import { goDuration } from '../../lib/billing/billing.service.js';
import { PriceBook, quotaFor, QUOTA_PER_USD } from '../../lib/billing/price-book.js';
import {
  answerText,
  countPromptTokens,
  countStreamedTokens,
  countTextTokens,
} from '../../lib/billing/token-counter.js';
import type { PriceRecord } from '../../lib/db/repositories/price.repository.js';

const price = (fields: Partial<PriceRecord> = {}): PriceRecord => ({
  model: 'gpt-4o',
  input: 2.5,
  output: 10,
  cachedInput: 1.25,
  cacheWriteInput: null,
  version: 1,
  createdAt: 0,
  updatedAt: 0,
  ...fields,
});

describe('pricing', () => {
  it('charges input, cached input and output per 1M tokens, in units of $0.000002, rounded up', () => {
    expect(QUOTA_PER_USD).to.equal(500_000);
    // 1M prompt tokens at $2.50 = 1,250,000 units; 1M completion tokens at $10 = 5,000,000.
    expect(quotaFor({ promptTokens: 1_000_000, completionTokens: 0, cachedTokens: 0 }, price(), 1)).to.equal(
      1_250_000,
    );
    expect(quotaFor({ promptTokens: 0, completionTokens: 1_000_000, cachedTokens: 0 }, price(), 1)).to.equal(
      5_000_000,
    );
    // Half the prompt cached at half price.
    expect(
      quotaFor({ promptTokens: 1_000_000, completionTokens: 0, cachedTokens: 500_000 }, price(), 1),
    ).to.equal(937_500);
    // 10 prompt + 5 completion = 12.5 + 25 = 37.5 units → 38.
    expect(quotaFor({ promptTokens: 10, completionTokens: 5, cachedTokens: 0 }, price(), 1)).to.equal(38);
  });

  it('charges prompt tokens written to the cache at cache_write_input, else at input', () => {
    // Claude's prices: input $3, cache reads $0.30, cache writes $3.75, output $15 per 1M.
    const claude = price({ input: 3, cachedInput: 0.3, cacheWriteInput: 3.75, output: 15 });
    const counts = {
      promptTokens: 1_000_000,
      completionTokens: 0,
      cachedTokens: 200_000,
      cacheWriteTokens: 400_000,
    };
    // 400k plain × $3 + 200k read × $0.30 + 400k written × $3.75 = $1.2 + $0.06 + $1.5 = $2.76.
    expect(quotaFor(counts, claude, 1)).to.equal(1_380_000);
    // No write price: written tokens cost input ($1.2 + $0.06 + $1.2 = $2.46).
    expect(
      quotaFor(counts, price({ input: 3, cachedInput: 0.3, cacheWriteInput: null, output: 15 }), 1),
    ).to.equal(1_230_000);
    // A price from an older L2 copy (no field at all) charges them as input too.
    const old = { ...claude } as Partial<PriceRecord>;
    delete old.cacheWriteInput;
    expect(
      quotaFor(counts, { ...old, cacheWriteInput: old.cacheWriteInput ?? null } as PriceRecord, 1),
    ).to.equal(1_230_000);
    expect(quotaFor(counts, old as PriceRecord, 1)).to.equal(1_230_000);
    // Writes never count beyond the prompt: reads and writes together are capped at it.
    expect(
      quotaFor({ promptTokens: 10, completionTokens: 0, cachedTokens: 6, cacheWriteTokens: 100 }, claude, 1),
    ).to.equal(Math.ceil((6 * 0.3 + 4 * 3.75) / 2));
  });

  it('applies the group ratio, charges cached tokens as input without a cached price, never below 0', () => {
    const counts = { promptTokens: 1000, completionTokens: 1000, cachedTokens: 400 };
    expect(quotaFor(counts, price({ cachedInput: null }), 1)).to.equal(6250);
    expect(quotaFor(counts, price({ cachedInput: null }), 0.5)).to.equal(3125);
    expect(quotaFor(counts, price({ input: 0, output: 0, cachedInput: 0 }), 2)).to.equal(0);
  });

  it('does not round float noise up to a whole unit', () => {
    // 3 tokens at $2/1M are 3 units, which floats make 3.0000000000000004; a true fraction still rounds up.
    const p = price({ input: 2, output: 2 });
    expect(quotaFor({ promptTokens: 3, completionTokens: 0, cachedTokens: 0 }, p, 1)).to.equal(3);
    expect(quotaFor({ promptTokens: 1, completionTokens: 0, cachedTokens: 0 }, p, 0.3)).to.equal(1);
  });

  it('finds a model price, else the * default, and follows patches', () => {
    const book = PriceBook.build([price(), price({ model: '*', input: 1 })], []);
    expect(book.price('gpt-4o')!.input).to.equal(2.5);
    expect(book.price('other')!.input).to.equal(1);
    book.setPrice('*', undefined);
    expect(book.price('other')).to.equal(undefined);
  });

  it('writes rate-limit resets as OpenAI does (Go durations)', () => {
    expect(goDuration(250)).to.equal('250ms');
    expect(goDuration(1200)).to.equal('2s');
    expect(goDuration(60_000)).to.equal('1m0s');
    expect(goDuration(-5)).to.equal('0ms');
  });
});

describe('token counting (when the upstream reports no usage)', () => {
  it('counts chat prompts with the per-message overhead', async () => {
    const text = await countTextTokens('Hello there');
    const n = await countPromptTokens('chat', { messages: [{ role: 'user', content: 'Hello there' }] });
    expect(n).to.equal(text + 3 + 3);
    const parts = await countPromptTokens('chat', {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }],
    });
    expect(parts).to.equal(n);
  });

  it('counts completion prompts and embedding inputs, one string or many', async () => {
    expect(await countPromptTokens('completions', { prompt: 'abc def' })).to.equal(
      await countTextTokens('abc def'),
    );
    expect(await countPromptTokens('embeddings', { input: ['abc', 'def'] })).to.equal(
      (await countTextTokens('abc')) + (await countTextTokens('def')),
    );
  });

  it('counts the text of a streamed answer, skipping [DONE] and broken events', async () => {
    const sse =
      'data: {"choices":[{"delta":{"content":"Hello"}}]}\n\n' +
      'data: {"choices":[{"delta":{"content":" world"}}]}\n\n' +
      'data: {broken\n\n' +
      'data: [DONE]\n\n';
    expect(await countStreamedTokens(sse)).to.equal(await countTextTokens('Hello world'));
  });

  it('reads message contents and tool call arguments from an answer', () => {
    const json = {
      choices: [
        {
          message: {
            content: 'ok',
            tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }],
          },
        },
      ],
    };
    expect(answerText(json)).to.equal('okf{"a":1}');
  });
});
