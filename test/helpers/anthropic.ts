import Anthropic from '@anthropic-ai/sdk';

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
