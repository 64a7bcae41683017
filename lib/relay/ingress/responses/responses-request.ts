import { BadRequestError } from '../../../errors/bad-request.error.js';
import type { ChatRequest } from '../ingress-format.js';

/**
 * A Responses API request (`POST /v1/responses`) as an OpenAI chat request, for a channel that
 * does not serve the Responses API itself. Everything a chat completion can carry is translated.
 * What needs state the gateway does not keep (`previous_response_id`, `conversation`, stored
 * prompts, item references, background runs) is refused on every path. What only OpenAI's own
 * Responses API serves (built-in tools such as web search, computer or shell calls, audio, files
 * by id) is a {@link NativeOnlyError}: such a request can pass through to a channel that serves
 * the Responses API natively, but is never bridged (a strict translation throws it; a lenient one,
 * used only to count the prompt, leaves those parts out).
 */

/** A request that only a channel serving the Responses API natively can take. */
export class NativeOnlyError extends BadRequestError {}

type Json = Record<string, unknown>;
type ChatMessage = Json & { role: string };
type ChatPart = Json & { type: string };

/** The fields that need responses kept by the gateway (which it does not keep): refused. */
const STATEFUL: Record<string, string> = {
  previous_response_id:
    'previous_response_id: this gateway does not store responses, so it cannot continue one; send the whole conversation in `input` (earlier output items included)',
  conversation:
    'conversation: this gateway does not store conversations; send the whole conversation in `input`',
  prompt:
    'prompt: stored prompt templates are not supported by this gateway; send the text in `instructions` and `input`',
};

/** Top-level fields a chat request takes under the same name and meaning. */
const SAME_NAME = [
  'temperature',
  'top_p',
  'user',
  'parallel_tool_calls',
  'service_tier',
  'prompt_cache_key',
  'safety_identifier',
] as const;

/**
 * Checks a Responses request for what is refused on every path (malformed fields, stored
 * state); throws a {@link BadRequestError} naming the field at fault.
 */
export function validateResponsesRequest(body: Json): void {
  responsesToChat(body, false);
}

/** Why the request cannot be bridged through chat (a {@link NativeOnlyError}), or undefined when it can. */
export function bridgeProblem(body: Json): NativeOnlyError | undefined {
  try {
    responsesToChat(body, true);
    return undefined;
  } catch (err) {
    if (err instanceof NativeOnlyError) return err;
    throw err;
  }
}

/**
 * Translates a (valid) Responses request into an OpenAI chat request. `strict`: what only a
 * native channel serves throws a {@link NativeOnlyError}; otherwise it is left out (the result
 * is then only good for counting the prompt, never for sending).
 */
export function responsesToChat(body: Json, strict = true): ChatRequest {
  for (const [field, message] of Object.entries(STATEFUL)) {
    if (body[field] !== undefined && body[field] !== null) throw bad(field, message, 'unsupported_parameter');
  }
  if (body.background === true) {
    throw bad(
      'background',
      'background: background responses need the gateway to store them, which it does not; leave `background` unset',
      'unsupported_parameter',
    );
  }
  if (typeof body.model !== 'string' || body.model.trim() === '') {
    throw bad('model', 'model: required, the name of a model (a string)');
  }
  const chat: ChatRequest = { model: body.model, messages: messagesOf(body, strict) };
  for (const name of SAME_NAME) {
    if (body[name] !== undefined && body[name] !== null) chat[name] = body[name];
  }
  for (const name of ['temperature', 'top_p'] as const) {
    if (chat[name] !== undefined && typeof chat[name] !== 'number')
      throw bad(name, `${name}: must be a number`);
  }
  // Echoed in the Response, not sent: OpenAI's chat API takes `metadata` only with `store: true`.
  if (body.metadata !== undefined && body.metadata !== null && !isObject(body.metadata)) {
    throw bad('metadata', 'metadata: must be an object of string values');
  }
  if (body.stream === true) chat.stream = true;
  const max = body.max_output_tokens;
  if (max !== undefined && max !== null) {
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      throw bad('max_output_tokens', 'max_output_tokens: must be a positive integer');
    }
    chat.max_completion_tokens = max;
  }
  const logprobs = body.top_logprobs;
  if (logprobs !== undefined && logprobs !== null) {
    if (typeof logprobs !== 'number' || !Number.isInteger(logprobs) || logprobs < 0 || logprobs > 20) {
      throw bad('top_logprobs', 'top_logprobs: must be an integer from 0 to 20');
    }
    chat.logprobs = true;
    chat.top_logprobs = logprobs;
  }
  reasoningOf(body.reasoning, chat);
  textOf(body.text, chat);
  const tools = toolsOf(body.tools, strict);
  if (tools.length > 0) chat.tools = tools;
  if (body.tool_choice !== undefined && body.tool_choice !== null) {
    const choice = unlessLenient(strict, () => toolChoiceOf(body.tool_choice));
    if (choice !== undefined) chat.tool_choice = choice;
  }
  return chat;
}

/** Runs `make`; when not strict, a {@link NativeOnlyError} from it gives undefined (the part is left out). */
function unlessLenient<T>(strict: boolean, make: () => T): T | undefined {
  try {
    return make();
  } catch (err) {
    if (!strict && err instanceof NativeOnlyError) return undefined;
    throw err;
  }
}

function messagesOf(body: Json, strict: boolean): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const instructions = body.instructions;
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== 'string') throw bad('instructions', 'instructions: must be a string');
    if (instructions !== '') messages.push({ role: 'system', content: instructions });
  }
  const input = body.input;
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
  } else if (Array.isArray(input)) {
    input.forEach((item, i) => unlessLenient(strict, () => addItem(messages, item, `input[${i}]`, strict)));
  } else if (input !== undefined && input !== null) {
    throw bad('input', 'input: must be a string or an array of input items');
  }
  // Checked on the input, not on the messages: a lenient translation may have left every item out.
  if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) {
    throw bad('input', 'input: required, a string or a non-empty array of input items');
  }
  for (const m of messages) {
    delete m.toolCallsOpen;
    if (Array.isArray(m.tool_calls) && m.tool_calls.length === 0) delete m.tool_calls;
  }
  return messages;
}

function addItem(messages: ChatMessage[], item: unknown, at: string, strict: boolean): void {
  if (!isObject(item)) throw bad(at, `${at}: must be an input item object`);
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  switch (type) {
    case 'message':
      return addMessage(messages, item, at, strict);
    case 'function_call': {
      const callId = requireString(item.call_id, `${at}.call_id`);
      const name = requireString(item.name, `${at}.name`);
      const args = item.arguments;
      if (typeof args !== 'string') throw bad(`${at}.arguments`, `${at}.arguments: must be a JSON string`);
      const call = { id: callId, type: 'function', function: { name, arguments: args } };
      // Chat keeps an assistant turn's text and its tool calls in one message; the Responses API
      // lists them as separate items, one after the other.
      const last = messages.at(-1);
      if (last?.role === 'assistant' && last.toolCallsOpen === true) {
        (last.tool_calls as unknown[]).push(call);
      } else {
        messages.push({ role: 'assistant', content: null, tool_calls: [call], toolCallsOpen: true });
      }
      return;
    }
    case 'function_call_output': {
      const callId = requireString(item.call_id, `${at}.call_id`);
      messages.push({
        role: 'tool',
        tool_call_id: callId,
        content: toolOutputOf(item.output, `${at}.output`, strict),
      });
      return;
    }
    case 'reasoning':
      // Reasoning items are OpenAI's own state from an earlier answer (often encrypted); a chat
      // completion has no place for them and the model does not need them to continue.
      return;
    case 'item_reference':
      throw bad(
        at,
        `${at}: item references point at stored items, and this gateway does not store responses; send the item itself`,
        'unsupported_parameter',
      );
    default:
      throw nativeOnly(
        `${at}.type`,
        `${at}.type: ${JSON.stringify(type)} items need a channel that serves the Responses API natively; this model's channels are bridged through chat, which takes messages, function_call and function_call_output items`,
        'unsupported_value',
      );
  }
}

function addMessage(messages: ChatMessage[], item: Json, at: string, strict: boolean): void {
  const role = item.role;
  if (role === 'assistant') {
    const content = item.content;
    let text: string;
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content)) {
      text = content
        .map((part, j) => {
          const p = `${at}.content[${j}]`;
          if (!isObject(part)) throw bad(p, `${p}: must be a content part object`);
          if (part.type === 'output_text' || part.type === 'input_text')
            return requireString(part.text, `${p}.text`, true);
          if (part.type === 'refusal') return requireString(part.refusal, `${p}.refusal`, true);
          throw bad(
            `${p}.type`,
            `${p}.type: an assistant message holds output_text or refusal parts`,
            'unsupported_value',
          );
        })
        .join('');
    } else throw bad(`${at}.content`, `${at}.content: must be a string or an array of content parts`);
    messages.push({ role: 'assistant', content: text, toolCallsOpen: true, tool_calls: [] });
    return;
  }
  if (role !== 'user' && role !== 'system' && role !== 'developer') {
    throw bad(`${at}.role`, `${at}.role: must be user, assistant, system or developer`);
  }
  const content = item.content;
  if (typeof content === 'string') {
    // `developer` is what OpenAI's newer models call the system turn; every provider knows `system`.
    messages.push({ role: role === 'user' ? 'user' : 'system', content });
    return;
  }
  if (!Array.isArray(content)) {
    throw bad(`${at}.content`, `${at}.content: must be a string or an array of content parts`);
  }
  const parts = content.flatMap(
    (part, j) => unlessLenient(strict, () => inputPartOf(part, `${at}.content[${j}]`)) ?? [],
  );
  if (role === 'user') {
    messages.push({ role: 'user', content: parts });
    return;
  }
  if (parts.some((p) => p.type !== 'text')) {
    throw bad(`${at}.content`, `${at}.content: a ${role} message holds text only (input_text parts)`);
  }
  messages.push({ role: 'system', content: parts.map((p) => p.text as string).join('\n') });
}

function inputPartOf(part: unknown, at: string): ChatPart {
  if (!isObject(part)) throw bad(at, `${at}: must be a content part object`);
  switch (part.type) {
    case 'input_text':
      return { type: 'text', text: requireString(part.text, `${at}.text`, true) };
    case 'input_image': {
      if (typeof part.image_url !== 'string' || part.image_url === '') {
        throw (part.file_id ? nativeOnly : bad)(
          `${at}.image_url`,
          `${at}.image_url: required, an https URL or a data: URL (images by file_id need a channel that serves the Responses API natively)`,
        );
      }
      const image: Json = { url: part.image_url };
      if (part.detail !== undefined && part.detail !== null) {
        if (!['auto', 'low', 'high', 'original'].includes(String(part.detail))) {
          throw bad(`${at}.detail`, `${at}.detail: must be auto, low or high`);
        }
        image.detail = part.detail;
      }
      return { type: 'image_url', image_url: image };
    }
    case 'input_file': {
      if (typeof part.file_data !== 'string' || part.file_data === '') {
        throw (part.file_id || part.file_url ? nativeOnly : bad)(
          `${at}.file_data`,
          `${at}.file_data: required, the file as a base64 data: URL (files by file_id or file_url need a channel that serves the Responses API natively)`,
        );
      }
      const file: Json = { file_data: part.file_data };
      if (typeof part.filename === 'string') file.filename = part.filename;
      return { type: 'file', file };
    }
    default:
      throw nativeOnly(
        `${at}.type`,
        `${at}.type: ${JSON.stringify(part.type)} parts need a channel that serves the Responses API natively; bridged through chat, use input_text, input_image or input_file`,
        'unsupported_value',
      );
  }
}

function toolOutputOf(output: unknown, at: string, strict: boolean): string {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output)) throw bad(at, `${at}: must be a string or an array of input_text parts`);
  return output
    .map((part, j) => {
      const p = `${at}[${j}]`;
      if (!isObject(part)) throw bad(p, `${p}: must be a content part object`);
      if (part.type !== 'input_text') {
        const skipped = unlessLenient(strict, () => {
          throw nativeOnly(
            p,
            `${p}: bridged through chat, a function output holds text only (input_text parts); images and files in it need a channel that serves the Responses API natively`,
          );
        });
        return skipped ?? '';
      }
      return requireString(part.text, `${p}.text`, true);
    })
    .join('');
}

function reasoningOf(reasoning: unknown, chat: ChatRequest): void {
  if (reasoning === undefined || reasoning === null) return;
  if (!isObject(reasoning)) throw bad('reasoning', 'reasoning: must be an object');
  const effort = reasoning.effort;
  if (effort === undefined || effort === null) return;
  if (!['none', 'minimal', 'low', 'medium', 'high', 'xhigh'].includes(String(effort))) {
    throw bad('reasoning.effort', 'reasoning.effort: must be none, minimal, low, medium, high or xhigh');
  }
  chat.reasoning_effort = effort;
}

function textOf(text: unknown, chat: ChatRequest): void {
  if (text === undefined || text === null) return;
  if (!isObject(text)) throw bad('text', 'text: must be an object');
  if (text.verbosity !== undefined && text.verbosity !== null) {
    if (!['low', 'medium', 'high'].includes(String(text.verbosity))) {
      throw bad('text.verbosity', 'text.verbosity: must be low, medium or high');
    }
    chat.verbosity = text.verbosity;
  }
  const format = text.format;
  if (format === undefined || format === null) return;
  if (!isObject(format)) throw bad('text.format', 'text.format: must be an object');
  switch (format.type) {
    case 'text':
      return;
    case 'json_object':
      chat.response_format = { type: 'json_object' };
      return;
    case 'json_schema': {
      const name = requireString(format.name, 'text.format.name');
      if (!isObject(format.schema))
        throw bad('text.format.schema', 'text.format.schema: required, a JSON schema object');
      const schema: Json = { name, schema: format.schema };
      if (typeof format.description === 'string') schema.description = format.description;
      if (typeof format.strict === 'boolean') schema.strict = format.strict;
      chat.response_format = { type: 'json_schema', json_schema: schema };
      return;
    }
    default:
      throw bad('text.format.type', 'text.format.type: must be text, json_object or json_schema');
  }
}

function toolsOf(tools: unknown, strict: boolean): Json[] {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw bad('tools', 'tools: must be an array of tools');
  const out: Json[] = [];
  tools.forEach((tool: unknown, i) => {
    const made = unlessLenient(strict, () => toolOf(tool, `tools[${i}]`));
    if (made) out.push(made);
  });
  return out;
}

function toolOf(tool: unknown, at: string): Json {
  if (!isObject(tool)) throw bad(at, `${at}: must be a tool object`);
  if (tool.type !== 'function') {
    throw nativeOnly(
      `${at}.type`,
      `${at}.type: the built-in tool ${JSON.stringify(tool.type)} needs a channel that serves the Responses API natively; this model's channels are bridged through chat, which takes function tools (type "function") only`,
      'unsupported_tool',
    );
  }
  const fn: Json = { name: requireString(tool.name, `${at}.name`) };
  if (typeof tool.description === 'string') fn.description = tool.description;
  if (tool.parameters !== undefined && tool.parameters !== null) {
    if (!isObject(tool.parameters))
      throw bad(`${at}.parameters`, `${at}.parameters: must be a JSON schema object`);
    fn.parameters = tool.parameters;
  }
  if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
  return { type: 'function', function: fn };
}

function toolChoiceOf(choice: unknown): unknown {
  if (choice === 'none' || choice === 'auto' || choice === 'required') return choice;
  if (isObject(choice)) {
    if (choice.type === 'function') {
      return { type: 'function', function: { name: requireString(choice.name, 'tool_choice.name') } };
    }
    if (choice.type === 'allowed_tools') {
      if (choice.mode !== 'auto' && choice.mode !== 'required') {
        throw bad('tool_choice.mode', 'tool_choice.mode: must be auto or required');
      }
      if (!Array.isArray(choice.tools)) throw bad('tool_choice.tools', 'tool_choice.tools: must be an array');
      const allowed = choice.tools.map((t, i) => {
        if (!isObject(t) || t.type !== 'function') {
          throw nativeOnly(
            `tool_choice.tools[${i}]`,
            `tool_choice.tools[${i}]: built-in tools need a channel that serves the Responses API natively; bridged through chat, only function tools are`,
            'unsupported_tool',
          );
        }
        return {
          type: 'function',
          function: { name: requireString(t.name, `tool_choice.tools[${i}].name`) },
        };
      });
      return { type: 'allowed_tools', allowed_tools: { mode: choice.mode, tools: allowed } };
    }
  }
  if (isObject(choice) && typeof choice.type === 'string') {
    throw nativeOnly(
      'tool_choice',
      `tool_choice: ${JSON.stringify(choice.type)} needs a channel that serves the Responses API natively; bridged through chat, use none, auto, required, {"type":"function","name":…} or {"type":"allowed_tools",…} of functions`,
      'unsupported_tool',
    );
  }
  throw bad(
    'tool_choice',
    'tool_choice: must be none, auto, required, {"type":"function","name":…} or {"type":"allowed_tools",…}',
  );
}

function requireString(value: unknown, at: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw bad(at, `${at}: required, a ${allowEmpty ? '' : 'non-empty '}string`);
  }
  return value;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(param: string, message: string, code = 'invalid_value'): BadRequestError {
  return new BadRequestError(message, { param, code });
}

function nativeOnly(param: string, message: string, code = 'unsupported_value'): NativeOnlyError {
  return new NativeOnlyError(message, { param, code });
}
