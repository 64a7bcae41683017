import { Worker } from 'node:worker_threads';
import type { Logger } from '../obs/logger.js';
import type { Endpoint } from '../relay/adapters/provider-adapter.js';
import { estimateTokens, planCount } from './token-count-core.js';
import type { CountReply, CountRequest } from './token-worker.js';

export { CHARS_PER_TOKEN_ESTIMATE, MAX_EXACT_COUNT_CHARS } from './token-count-core.js';

/**
 * Local token counts, for when an upstream reports no usage (or the client went away before
 * it did), with the o200k_base tokenizer of OpenAI's current models (gpt-tokenizer). Other
 * providers tokenize differently: then these counts are an estimate, which is why an upstream's
 * own usage always wins.
 *
 * The tokenizer runs in a worker thread started at the first count: its tables (about 50 MB,
 * a second of CPU to load) are paid only by a gateway that counts, and no count, not even the
 * first, holds up the event loop.
 */

/** How long a count waits for the worker before it settles for the estimate. */
const COUNT_TIMEOUT_MS = 30_000;

/** The worker's entry: the compiled .js next to this file, or the .ts when run through tsx. */
const WORKER_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './token-worker.ts' : './token-worker.js',
  import.meta.url,
);

/**
 * Starts the worker. Under tsx (tests, `npm run dev`) node 20 runs a worker's entry without the
 * parent's `--import tsx` hooks (tsx issue #354: "Unknown file extension .ts"), so a small script
 * registers tsx in the worker first (resolved from the working directory, the project's), then
 * imports the entry.
 */
export function startTokenWorker(): Worker {
  if (WORKER_ENTRY.pathname.endsWith('.js')) return new Worker(WORKER_ENTRY);
  const entry = JSON.stringify(WORKER_ENTRY.href);
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${entry}); })`, {
    eval: true,
  });
}

interface Pending {
  worker: Worker;
  resolve: (tokens: number) => void;
  /** The estimate of what lies beyond the cap, added to the worker's answer. */
  beyondCap: number;
  /** What the count is worth if the worker never answers: a token per 4 characters. */
  fallback: number;
  timer: NodeJS.Timeout;
}

/**
 * Counts texts in a worker thread (token-worker.ts), started at the first count and `unref()`ed
 * (it never keeps the process alive). A count is bounded: the worker tokenizes at most
 * {@link MAX_EXACT_COUNT_CHARS} characters of it, in pieces (see token-count-core.ts), and the
 * rest is estimated here. A worker that crashes is logged and replaced at the next count; a count
 * whose worker died, or that waited {@link COUNT_TIMEOUT_MS}, is the estimate (ceil(chars/4)).
 */
export class TokenCounter {
  private worker?: Worker;
  /** When the worker last answered (or started): a worker silent for a whole timeout is stuck. */
  private lastHeard = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private holders = 0;
  private logger?: Logger;

  private readonly timeoutMs: number;
  private readonly startWorker: () => Worker;

  /** `startWorker`: another worker speaking the same messages (tests: one that dies or hangs). */
  constructor(opts: { timeoutMs?: number; startWorker?: () => Worker } = {}) {
    this.timeoutMs = opts.timeoutMs ?? COUNT_TIMEOUT_MS;
    this.startWorker = opts.startWorker ?? startTokenWorker;
  }

  /** The tokens of texts counted as one (they share the cap). */
  count(texts: readonly string[]): Promise<number> {
    const { parts, estimate } = planCount(texts);
    if (parts.length === 0) return Promise.resolve(estimate);
    const fallback = estimateTokens(texts);
    let worker: Worker;
    try {
      worker = this.started();
    } catch (err) {
      this.report('error', { err }, 'the token counter could not start its worker; counting by estimate');
      return Promise.resolve(fallback);
    }
    return new Promise<number>((resolve) => {
      const id = this.nextId++;
      // Ref'd: a process waiting for a count stays up for it (the idle worker does not keep it).
      const timer = setTimeout(() => this.timedOut(id), this.timeoutMs);
      this.pending.set(id, { worker, fallback, timer, resolve, beyondCap: estimate });
      worker.postMessage({ id, parts } satisfies CountRequest);
    });
  }

  /** A gateway holds the counter while it runs (its logger gets the worker's failures). */
  hold(logger: Logger): void {
    this.holders++;
    this.logger = logger;
  }

  /** The last gateway to let go ends the worker; a count still waiting gets the estimate. */
  async release(): Promise<void> {
    if (--this.holders > 0) return;
    this.holders = 0;
    await this.stop();
  }

  /** Ends the worker (if any); counts still waiting get the estimate. The next count starts one. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.settle(worker);
    await worker.terminate();
  }

  /** Whether a worker is running (for tests and the health of the counter). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** The worker's thread id, if one runs (for tests). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = this.startWorker();
    this.worker = worker;
    this.lastHeard = performance.now();
    worker.on('message', (reply: CountReply) => {
      if (this.worker === worker) this.lastHeard = performance.now();
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      clearTimeout(p.timer);
      p.resolve(reply.tokens + p.beyondCap);
    });
    worker.on('error', (err) => this.report('error', { err }, 'the token counter worker failed'));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return; // stopped on purpose
      this.worker = undefined;
      this.report('error', { code }, 'the token counter worker exited; the next count starts another');
      this.settle(worker);
    });
    // After the listeners: a 'message' listener added later would ref the port again.
    worker.unref();
    return worker;
  }

  /** Every count still waiting on `worker` gets its estimate. */
  private settle(worker: Worker): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(p.fallback);
    }
  }

  /** To the holding gateway's log; with no gateway (a script, a unit test), a process warning. */
  private report(level: 'error' | 'warn', fields: Record<string, unknown>, msg: string): void {
    if (this.logger) this.logger[level](fields, msg);
    else
      process.emitWarning(`${msg}: ${String(fields.err ?? fields.code ?? fields.timeoutMs)}`, 'TokenCounter');
  }

  private timedOut(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.report('warn', { timeoutMs: this.timeoutMs }, 'a token count timed out; counted by estimate');
    p.resolve(p.fallback);
    // Silent for a whole timeout: stuck, not just busy. Its counts get the estimate, a new one starts.
    if (this.worker === p.worker && performance.now() - this.lastHeard >= this.timeoutMs) void this.stop();
  }
}

/** The process's counter: one worker, shared by the gateways of a process (tests run several). */
export const tokenCounter = new TokenCounter();

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
  if (endpoint !== 'chat')
    return tokenCounter.count(textsOf(endpoint === 'embeddings' ? body.input : body.prompt));
  const messages = Array.isArray(body.messages) ? body.messages : [];
  // In order (content, then name, message by message): the cap is shared by the texts in order.
  const texts: string[] = [];
  let n = PER_REPLY;
  for (const m of messages as Record<string, unknown>[]) {
    n += PER_MESSAGE;
    texts.push(contentText(m?.content));
    if (typeof m?.name === 'string') {
      texts.push(m.name);
      n += 1;
    }
  }
  return n + (await tokenCounter.count(texts));
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
  return tokenCounter.count([text]);
}

/** The tokens of a text. */
export function countTextTokens(text: string): Promise<number> {
  return tokenCounter.count([text]);
}

/** A cheap upper-side guess of the prompt's tokens from its size, for the hold and the TPM check. */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.ceil(bodyBytes / 4);
}
