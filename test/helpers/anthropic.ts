import Anthropic from '@anthropic-ai/sdk';
import { expect } from 'chai';
import { startTestGateway, type TestGateway } from './gateway.js';

/** Awaits a call that must fail with an API error (as Anthropic's SDK reports it) and returns the error. */
export async function anthropicApiError(
  p: Promise<unknown>,
): Promise<InstanceType<typeof Anthropic.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof Anthropic.APIError) return err;
    throw err;
  }
  throw new Error('expected an APIError');
}

/**
 * The messages of the turn after a tool use: the question, the assistant's answer (with its
 * `tool_use` block) and the user's `tool_result` for it.
 */
export function toolResultTurn(
  question: string,
  answer: Anthropic.ContentBlock[],
  result: string,
): Anthropic.MessageParam[] {
  const use = answer.find((b) => b.type === 'tool_use');
  if (use?.type !== 'tool_use') throw new Error('the answer has no tool_use block');
  return [
    { role: 'user', content: question },
    { role: 'assistant', content: answer },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: result }] },
  ];
}

/**
 * The prices of the Claude suites, per 1M tokens: input $2, output $4, cache reads $1, cache
 * writes $3 (1 quota unit per input token, 2 per output token, 0.5 per cache read, 1.5 per cache write).
 */
export const CLAUDE_TEST_PRICE = { input: 2, output: 4, cached_input: 1, cache_write_input: 3 };

/**
 * A gateway that charges every request (no unpriced models, 100 tokens reserved), with
 * CLAUDE_TEST_PRICE set on each of `models`, and a token of its own.
 */
export async function startClaudeTestGateway(
  models: string[],
): Promise<{ gw: TestGateway; key: string; tokenId: number }> {
  const gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false', QUOTA_RESERVE_TOKENS: '100' } });
  for (const model of models)
    expect((await gw.admin('PUT', `/api/prices/${model}`, CLAUDE_TEST_PRICE)).status).to.equal(200);
  const token = await gw.token();
  return { gw, key: token.key, tokenId: token.id };
}
