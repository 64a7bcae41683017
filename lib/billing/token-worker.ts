import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { countExactParts, type ExactPart } from './token-count-core.js';

/**
 * The token counter's worker thread (see token-counter.ts): loads the o200k_base tokenizer
 * (about a second of CPU and 50 MB, here rather than on the gateway's event loop) and answers
 * each count request `{ id, parts }` with `{ id, tokens }`. A request that arrives while the
 * tables load waits in the port's queue.
 */
export interface CountRequest {
  id: number;
  parts: ExactPart[];
}
export interface CountReply {
  id: number;
  tokens: number;
}

const { countTokens } = createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as {
  countTokens: (t: string) => number;
};

parentPort!.on('message', (req: CountRequest) => {
  void countExactParts(countTokens, req.parts).then((tokens) =>
    parentPort!.postMessage({ id: req.id, tokens } satisfies CountReply),
  );
});
