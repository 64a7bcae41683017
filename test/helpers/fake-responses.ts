import type http from 'node:http';
import type OpenAI from 'openai';

/**
 * The fake OpenAI upstream's Responses API (`POST …/v1/responses`), strict the way OpenAI is:
 * an unknown parameter, a malformed input item or tool, or a chat-only field (such as
 * `stream_options.include_usage`) is a 400 `invalid_request_error`, and every answer and
 * stream event is built with the official `openai` client's types, so a change in the documented
 * shapes fails the typecheck here rather than passing silently.
 *
 * It answers a function call to the first function tool while the input has no
 * `function_call_output`, and text that quotes the function output once it has one.
 */

type Params = OpenAI.Responses.ResponseCreateParams;
type WireResponse = Omit<OpenAI.Responses.Response, 'output_text'>;
type Json = Record<string, unknown>;

/** Every parameter the official client knows; the compiler checks this list against its type. */
const KNOWN = {
  background: true,
  context_management: true,
  conversation: true,
  include: true,
  input: true,
  instructions: true,
  max_output_tokens: true,
  metadata: true,
  model: true,
  moderation: true,
  parallel_tool_calls: true,
  previous_response_id: true,
  prompt: true,
  prompt_cache_key: true,
  prompt_cache_options: true,
  prompt_cache_retention: true,
  reasoning: true,
  safety_identifier: true,
  service_tier: true,
  store: true,
  stream: true,
  stream_options: true,
  temperature: true,
  text: true,
  tool_choice: true,
  tools: true,
  top_logprobs: true,
  top_p: true,
  truncation: true,
  user: true,
} satisfies Record<keyof Params, true>;

export const FAKE_RESPONSES_USAGE: OpenAI.Responses.ResponseUsage = {
  input_tokens: 10,
  input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
  output_tokens: 5,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 15,
};

/** The request's problem as OpenAI words it, or null for a valid request. */
export function responsesRequestProblem(body: Json): { message: string; param: string | null } | null {
  for (const key of Object.keys(body)) {
    if (!(key in KNOWN)) return { message: `Unknown parameter: '${key}'.`, param: key };
  }
  if (typeof body.model !== 'string' || body.model === '')
    return { message: "Missing required parameter: 'model'.", param: 'model' };
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return { message: "Invalid type for 'stream': expected a boolean.", param: 'stream' };
  }
  if (body.stream_options !== undefined && body.stream_options !== null) {
    const opts = body.stream_options as Json;
    for (const key of Object.keys(opts)) {
      if (key !== 'include_obfuscation')
        return { message: `Unknown parameter: 'stream_options.${key}'.`, param: `stream_options.${key}` };
    }
  }
  const input = body.input;
  if (typeof input !== 'string' && !Array.isArray(input)) {
    return {
      message: "Invalid type for 'input': expected a string or an array of input items.",
      param: 'input',
    };
  }
  if (Array.isArray(input)) {
    for (const [i, item] of input.entries()) {
      const problem = itemProblem(item as Json);
      if (problem) return { message: `Invalid 'input[${i}]': ${problem}`, param: `input[${i}]` };
    }
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools))
      return { message: "Invalid type for 'tools': expected an array.", param: 'tools' };
    for (const [i, tool] of (body.tools as Json[]).entries()) {
      if (tool.type !== 'function') continue; // the fake serves function tools only, but OpenAI knows others
      if (typeof tool.name !== 'string' || !('parameters' in tool)) {
        return {
          message: `Missing required parameter: 'tools[${i}].name' or 'tools[${i}].parameters'.`,
          param: `tools[${i}]`,
        };
      }
    }
  }
  return null;
}

function itemProblem(item: Json): string | null {
  if (typeof item !== 'object' || item === null) return 'expected an object.';
  const type = item.type ?? 'message';
  switch (type) {
    case 'message': {
      if (!['user', 'assistant', 'system', 'developer'].includes(String(item.role))) return "invalid 'role'.";
      if (typeof item.content === 'string') return null;
      if (!Array.isArray(item.content)) return "invalid 'content'.";
      const allowed =
        item.role === 'assistant' ? ['output_text', 'refusal'] : ['input_text', 'input_image', 'input_file'];
      for (const part of item.content as Json[]) {
        if (!allowed.includes(String(part.type))) return `invalid content part type '${String(part.type)}'.`;
      }
      return null;
    }
    case 'function_call':
      return typeof item.call_id === 'string' &&
        typeof item.name === 'string' &&
        typeof item.arguments === 'string'
        ? null
        : 'a function_call needs call_id, name and arguments (strings).';
    case 'function_call_output':
      return typeof item.call_id === 'string' &&
        (typeof item.output === 'string' || Array.isArray(item.output))
        ? null
        : 'a function_call_output needs call_id and output.';
    case 'reasoning':
      return Array.isArray(item.summary) ? null : 'a reasoning item needs summary.';
    default:
      return `unsupported item type '${String(type)}'.`;
  }
}

/** Answers a valid Responses request, whole or streamed. */
export function answerResponses(
  res: http.ServerResponse,
  label: string,
  body: Json,
  send: (status: number, body: unknown) => void,
) {
  const problem = responsesRequestProblem(body);
  if (problem) {
    return send(400, {
      error: { message: problem.message, type: 'invalid_request_error', param: problem.param, code: null },
    });
  }
  const model = String(body.model);
  const input = Array.isArray(body.input) ? (body.input as Json[]) : [];
  const output = input.find((i) => i.type === 'function_call_output');
  const tool = Array.isArray(body.tools)
    ? (body.tools as Json[]).find((t) => t.type === 'function')
    : undefined;
  const item: OpenAI.Responses.ResponseOutputItem =
    tool && !output
      ? {
          type: 'function_call',
          id: 'fc_fake',
          call_id: 'call_fake_1',
          name: String(tool.name),
          arguments: '{"city":"Paris"}',
          status: 'completed',
        }
      : {
          type: 'message',
          id: 'msg_fake',
          role: 'assistant',
          status: 'completed',
          content: [
            {
              type: 'output_text',
              text: `Hello from ${label} as ${model}${output ? `; the tool said ${String(output.output)}` : ''}`,
              annotations: [],
              logprobs: [],
            },
          ],
        };
  const response: WireResponse = {
    id: 'resp_fake',
    object: 'response',
    created_at: 1_700_000_000,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    metadata: (body.metadata as Record<string, string> | undefined) ?? {},
    model,
    output: [item],
    parallel_tool_calls: true,
    temperature: null,
    tool_choice: 'auto',
    tools: [],
    top_p: null,
    usage: FAKE_RESPONSES_USAGE,
  };
  if (body.stream !== true) return send(200, response);
  const shell: WireResponse = { ...response, status: 'in_progress', output: [], usage: undefined };
  const events: OpenAI.Responses.ResponseStreamEvent[] = [
    { type: 'response.created', sequence_number: 0, response: shell as OpenAI.Responses.Response },
    { type: 'response.in_progress', sequence_number: 0, response: shell as OpenAI.Responses.Response },
  ];
  if (item.type === 'function_call') {
    events.push(
      {
        type: 'response.output_item.added',
        sequence_number: 0,
        output_index: 0,
        item: { ...item, arguments: '', status: 'in_progress' },
      },
      {
        type: 'response.function_call_arguments.delta',
        sequence_number: 0,
        item_id: item.id!,
        output_index: 0,
        delta: item.arguments,
      },
      {
        type: 'response.function_call_arguments.done',
        sequence_number: 0,
        item_id: item.id!,
        output_index: 0,
        name: item.name,
        arguments: item.arguments,
      },
    );
  } else if (item.type === 'message') {
    const text = (item.content[0] as OpenAI.Responses.ResponseOutputText).text;
    const at = { item_id: item.id, output_index: 0, content_index: 0 };
    events.push(
      {
        type: 'response.output_item.added',
        sequence_number: 0,
        output_index: 0,
        item: { ...item, content: [], status: 'in_progress' },
      },
      {
        type: 'response.content_part.added',
        sequence_number: 0,
        ...at,
        part: { type: 'output_text', text: '', annotations: [] },
      },
      ...text.split(/(?= )/).map((delta): OpenAI.Responses.ResponseTextDeltaEvent => ({
        type: 'response.output_text.delta',
        sequence_number: 0,
        ...at,
        delta,
        logprobs: [],
      })),
      { type: 'response.output_text.done', sequence_number: 0, ...at, text, logprobs: [] },
      { type: 'response.content_part.done', sequence_number: 0, ...at, part: item.content[0]! },
    );
  }
  events.push(
    { type: 'response.output_item.done', sequence_number: 0, output_index: 0, item },
    { type: 'response.completed', sequence_number: 0, response: response as OpenAI.Responses.Response },
  );
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  events.forEach((e, i) =>
    res.write(`event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`),
  );
  res.end();
}
