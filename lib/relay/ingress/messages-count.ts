import { countTextTokens } from '../../billing/token-counter.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Tokens counted for one image (Anthropic's figure for an image of about 1.15 megapixels). */
export const IMAGE_TOKENS = 1600;
/** Tokens counted per started 75 KB of a base64 PDF (a page of text and images, roughly). */
export const PDF_TOKENS_PER_75KB = 1600;
/** What Claude adds per turn (role markers) and around tools, roughly. */
const PER_TURN = 4;
const TOOLS_OVERHEAD = 300;

async function blockTokens(b: unknown): Promise<number> {
  if (typeof b === 'string') return countTextTokens(b);
  if (!isObj(b)) return 0;
  switch (b.type) {
    case 'text':
      return countTextTokens(String(b.text ?? ''));
    case 'image':
      return IMAGE_TOKENS;
    case 'document': {
      const s = isObj(b.source) ? b.source : {};
      if (s.type === 'text') return countTextTokens(String(s.data ?? ''));
      if (s.type === 'base64' && typeof s.data === 'string')
        return Math.ceil((s.data.length * 0.75) / 75_000) * PDF_TOKENS_PER_75KB;
      return IMAGE_TOKENS;
    }
    case 'tool_use':
      return countTextTokens(String(b.name ?? '') + JSON.stringify(b.input ?? {}));
    case 'tool_result': {
      if (!Array.isArray(b.content)) return blockTokens(b.content ?? '');
      let n = 0;
      for (const c of b.content) n += await blockTokens(c);
      return n;
    }
    case 'thinking':
      return countTextTokens(String(b.thinking ?? ''));
    default:
      return countTextTokens(JSON.stringify(b));
  }
}

/**
 * An estimate of a Messages request's input tokens, for `/v1/messages/count_tokens` when the
 * model is not served by a Claude channel (which counts exactly). It uses OpenAI's tokenizer,
 * which counts Claude's text within roughly 10–20 %, and fixed figures for images and PDFs.
 */
export async function estimateMessagesTokens(body: Json): Promise<number> {
  let n = 0;
  const sys = body.system;
  if (typeof sys === 'string') n += await countTextTokens(sys);
  else if (Array.isArray(sys)) for (const b of sys) n += await blockTokens(b);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObj(m)) continue;
    n += PER_TURN;
    if (typeof m.content === 'string') n += await countTextTokens(m.content);
    else if (Array.isArray(m.content)) for (const b of m.content) n += await blockTokens(b);
  }
  if (Array.isArray(body.tools) && body.tools.length > 0)
    n += TOOLS_OVERHEAD + (await countTextTokens(JSON.stringify(body.tools)));
  return n;
}
