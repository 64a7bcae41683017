import type { NormalizedUsage } from '../provider-adapter.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** Claude's `stop_reason` as OpenAI's `finish_reason`. */
export function finishReason(stopReason: unknown): string {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/**
 * Claude's usage normalised: its `input_tokens` leave out the prompt tokens read from or written
 * to the cache, so the prompt is the sum of the three.
 */
export function normalizeUsage(u: unknown): NormalizedUsage | undefined {
  if (!isObj(u)) return undefined;
  const input = count(u.input_tokens);
  const write = count(u.cache_creation_input_tokens);
  const read = count(u.cache_read_input_tokens);
  return {
    promptTokens: input + write + read,
    completionTokens: count(u.output_tokens),
    cachedTokens: read,
    cacheWriteTokens: write,
  };
}

/** Normalised usage in OpenAI's `usage` shape. */
export function openAiUsage(u: NormalizedUsage): Json {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

/**
 * A whole Claude message as an OpenAI chat completion. `jsonTool` names the tool that carried a
 * `response_format: json_schema`: its input becomes the answer's `content`.
 */
export function messageToChat(
  msg: Json,
  jsonTool: string | undefined,
): { body: Json; usage: NormalizedUsage | undefined } {
  let text = '';
  let reasoning = '';
  const toolCalls: Json[] = [];
  let jsonAnswer = false;
  for (const b of Array.isArray(msg.content) ? msg.content : []) {
    if (!isObj(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') text += b.text;
    else if (b.type === 'thinking' && typeof b.thinking === 'string') reasoning += b.thinking;
    else if (b.type === 'tool_use' && jsonTool !== undefined && b.name === jsonTool) {
      text += JSON.stringify(b.input ?? {});
      jsonAnswer = true;
    } else if (b.type === 'tool_use')
      toolCalls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
      });
    // redacted_thinking, server tool blocks: nothing an OpenAI client can read.
  }
  const message: Json = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
  if (reasoning) message.reasoning_content = reasoning;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const usage = normalizeUsage(msg.usage);
  const body: Json = {
    id: typeof msg.id === 'string' ? msg.id : 'msg',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: msg.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: jsonAnswer && msg.stop_reason === 'tool_use' ? 'stop' : finishReason(msg.stop_reason),
      },
    ],
  };
  if (usage) body.usage = openAiUsage(usage);
  return { body, usage };
}
