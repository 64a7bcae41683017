import { expect } from 'chai';
import { SseUsageFilter } from '../../lib/relay/adapters/openai/sse-usage-filter.js';

const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const usageChunk = chunk({
  id: 'x',
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
});

describe('SSE usage filter', () => {
  it('forwards complete events only, across arbitrary chunk borders', () => {
    const f = new SseUsageFilter(true);
    const text = chunk({ choices: [{ delta: { content: 'hé' } }] }) + 'data: [DONE]\n\n';
    const bytes = Buffer.from(text, 'utf8');
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) out += f.push(bytes.subarray(i, i + 3));
    out += f.end();
    expect(out).to.equal(text);
    expect(f.done).to.equal(true);
  });

  it('reads usage and drops the usage-only chunk when the client did not ask for it', () => {
    const f = new SseUsageFilter(true);
    const out = f.push(chunk({ choices: [{ delta: { content: 'a' } }] }) + usageChunk + 'data: [DONE]\n\n');
    expect(out).not.to.contain('"usage"');
    expect(out).to.contain('[DONE]');
    expect(f.usage).to.deep.equal({
      promptTokens: 3,
      completionTokens: 4,
      cachedTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it('keeps the usage chunk when the client asked for it', () => {
    const f = new SseUsageFilter(false);
    expect(f.push(usageChunk)).to.equal(usageChunk);
    expect(f.usage).to.include({ promptTokens: 3, completionTokens: 4 });
  });

  it('handles CRLF event boundaries', () => {
    const f = new SseUsageFilter(true);
    expect(f.push('data: {"choices":[]}\r\n\r\ndata: [DONE]\r\n\r\n')).to.equal(
      'data: {"choices":[]}\r\n\r\ndata: [DONE]\r\n\r\n',
    );
  });

  it('keeps what it forwarded, up to its limit, for counting tokens', () => {
    const a = chunk({ choices: [{ delta: { content: 'hello' } }] });
    const f = new SseUsageFilter(true, a.length + 1);
    f.push(a);
    f.push(a);
    f.push(a);
    expect(f.delivered).to.equal(a + a); // stopped once past the limit
  });
});
