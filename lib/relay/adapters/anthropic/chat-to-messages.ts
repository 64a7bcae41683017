import { BadRequestError } from '../../../errors/bad-request.error.js';
import { DEFAULT_THINKING_BUDGETS, defaultMaxTokens, type AnthropicSettings } from './anthropic-settings.js';

type Json = Record<string, unknown>;
type Block = Json & { type: string };
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** Text put before the first turn when a conversation opens with the assistant. */
export const LEADING_USER_TEXT = '.';

/** The instruction added to `system` for `response_format: {type: "json_object"}`. */
export const JSON_OBJECT_INSTRUCTION =
  'Answer with one JSON object only: no prose, no code fences, nothing before or after it.';

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * How a request's `response_format: json_schema` is carried: when the client sent no tools and
 * no extended thinking, as one forced tool whose `input_schema` is the schema (the answer's tool
 * input is the JSON, returned as `content`); otherwise as a system instruction quoting the schema.
 * Returns the forced tool's name, or undefined when no tool is forced.
 */
export function responseFormatTool(body: Json): string | undefined {
  const rf = body.response_format;
  if (!isObj(rf) || rf.type !== 'json_schema' || !isObj(rf.json_schema)) return undefined;
  if (Array.isArray(body.tools) && body.tools.length > 0) return undefined;
  if (thinkingEffort(body) !== undefined) return undefined;
  const name = rf.json_schema.name;
  return typeof name === 'string' && /^[a-zA-Z0-9_-]{1,64}$/.test(name) ? name : 'json_response';
}

function thinkingEffort(body: Json): keyof typeof DEFAULT_THINKING_BUDGETS | undefined {
  const e = body.reasoning_effort;
  return e === 'minimal' || e === 'low' || e === 'medium' || e === 'high' ? e : undefined;
}

function textOf(content: unknown, where: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    throw new BadRequestError(`${where}.content must be a string or an array of parts`);
  return content.map((p: unknown) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
}

/** `data:image/png;base64,AAAA` → an Anthropic base64 source; an http(s) URL → a url source. */
function imageSource(url: string, where: string): Json {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m) return { type: 'base64', media_type: m[1], data: m[2] };
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw new BadRequestError(`${where}.image_url.url must be an http(s) URL or a base64 data URL`);
}

function withCache(block: Block, part: Json): Block {
  // Clients that know Claude put Anthropic's prompt-cache marker on their parts: keep it.
  if (isObj(part.cache_control)) block.cache_control = part.cache_control;
  return block;
}

function userBlocks(content: unknown, where: string): Block[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content))
    throw new BadRequestError(`${where}.content must be a string or an array of parts`);
  const out: Block[] = [];
  content.forEach((part: unknown, i) => {
    const at = `${where}.content[${i}]`;
    if (!isObj(part)) throw new BadRequestError(`${at} must be an object`);
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw new BadRequestError(`${at}.text must be a string`);
      if (part.text) out.push(withCache({ type: 'text', text: part.text }, part));
    } else if (part.type === 'image_url') {
      const img = part.image_url;
      const url = typeof img === 'string' ? img : isObj(img) ? img.url : undefined;
      if (typeof url !== 'string') throw new BadRequestError(`${at}.image_url.url must be a string`);
      out.push(withCache({ type: 'image', source: imageSource(url, at) }, part));
    } else if (part.type === 'file' && isObj(part.file) && typeof part.file.file_data === 'string') {
      const m = /^data:application\/pdf;base64,(.*)$/s.exec(part.file.file_data);
      if (!m) throw new BadRequestError(`${at}.file.file_data: Claude channels read PDF data URLs only`);
      out.push(
        withCache(
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: m[1] } },
          part,
        ),
      );
    } else {
      throw new BadRequestError(
        `${at}: content part type ${JSON.stringify(part.type)} is not supported by Claude channels`,
      );
    }
  });
  return out;
}

function assistantBlocks(m: Json, where: string): Block[] {
  const out: Block[] = [];
  const text = textOf(m.content, where);
  if (text) out.push({ type: 'text', text });
  if (m.tool_calls !== undefined) {
    if (!Array.isArray(m.tool_calls)) throw new BadRequestError(`${where}.tool_calls must be an array`);
    m.tool_calls.forEach((tc: unknown, i) => {
      const at = `${where}.tool_calls[${i}]`;
      if (
        !isObj(tc) ||
        !isObj(tc.function) ||
        typeof tc.function.name !== 'string' ||
        typeof tc.id !== 'string'
      )
        throw new BadRequestError(`${at} must have an id and a function with a name`);
      const args = tc.function.arguments;
      let input: unknown = {};
      if (typeof args === 'string' && args.trim() !== '') {
        try {
          input = JSON.parse(args);
        } catch {
          throw new BadRequestError(`${at}.function.arguments is not valid JSON`);
        }
      }
      if (!isObj(input)) throw new BadRequestError(`${at}.function.arguments must be a JSON object`);
      out.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input });
    });
  }
  return out;
}

function toolResult(m: Json, where: string): Block {
  if (typeof m.tool_call_id !== 'string' || !m.tool_call_id)
    throw new BadRequestError(`${where}.tool_call_id is required for a tool message`);
  const text = textOf(m.content, where);
  return { type: 'tool_result', tool_use_id: m.tool_call_id, content: text ? [{ type: 'text', text }] : [] };
}

/** Appends a turn, merging it into the previous one when the role repeats (Claude wants alternation). */
function push(turns: Turn[], role: Turn['role'], blocks: Block[]): void {
  if (blocks.length === 0) return;
  const last = turns[turns.length - 1];
  if (last && last.role === role) last.content.push(...blocks);
  else turns.push({ role, content: blocks });
}

/** Tool results must open a user turn: move them before any other block, keeping their order. */
function toolResultsFirst(turn: Turn): void {
  if (turn.role !== 'user') return;
  const results = turn.content.filter((b) => b.type === 'tool_result');
  if (results.length === 0) return;
  turn.content = [...results, ...turn.content.filter((b) => b.type !== 'tool_result')];
}

function tools(body: Json): Json[] | undefined {
  if (body.tools === undefined || body.tools === null) return undefined;
  if (!Array.isArray(body.tools)) throw new BadRequestError('tools must be an array', { param: 'tools' });
  return body.tools.map((t: unknown, i) => {
    if (!isObj(t) || t.type !== 'function' || !isObj(t.function) || typeof t.function.name !== 'string')
      throw new BadRequestError(`tools[${i}] must be {type: "function", function: {name, …}}`, {
        param: 'tools',
      });
    const f = t.function;
    const out: Json = {
      name: f.name,
      input_schema: isObj(f.parameters) ? f.parameters : { type: 'object', properties: {} },
    };
    if (typeof f.description === 'string') out.description = f.description;
    return out;
  });
}

function toolChoice(body: Json, hasTools: boolean): Json | undefined {
  const tc = body.tool_choice;
  const noParallel = body.parallel_tool_calls === false;
  let out: Json | undefined;
  if (tc === 'auto') out = { type: 'auto' };
  else if (tc === 'none') out = { type: 'none' };
  else if (tc === 'required') out = { type: 'any' };
  else if (isObj(tc) && isObj(tc.function) && typeof tc.function.name === 'string')
    out = { type: 'tool', name: tc.function.name };
  else if (tc !== undefined && tc !== null)
    throw new BadRequestError(
      'tool_choice must be auto, none, required or {type: "function", function: {name}}',
      {
        param: 'tool_choice',
      },
    );
  if (!hasTools) return undefined;
  if (noParallel) out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  if (out?.type === 'none') delete out.disable_parallel_tool_use;
  return out;
}

/**
 * An OpenAI chat request as a Claude Messages request. `body.model` is already the upstream's
 * name. Fields with no Anthropic meaning (`n` of 1, `logprobs`, `seed`, `presence_penalty`,
 * `stream_options`, …) are dropped, never forwarded.
 */
export function chatToMessages(body: Json, settings: AnthropicSettings): Json {
  const model = String(body.model);
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw new BadRequestError('messages must be a non-empty array', { param: 'messages' });
  if (typeof body.n === 'number' && body.n !== 1)
    throw new BadRequestError('Claude channels answer with one choice: n must be 1', { param: 'n' });

  const system: string[] = [];
  const turns: Turn[] = [];
  body.messages.forEach((m: unknown, i) => {
    const where = `messages[${i}]`;
    if (!isObj(m)) throw new BadRequestError(`${where} must be an object`, { param: 'messages' });
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content, where);
        if (text) system.push(text);
        return;
      }
      case 'user':
        return push(turns, 'user', userBlocks(m.content, where));
      case 'assistant':
        return push(turns, 'assistant', assistantBlocks(m, where));
      case 'tool':
        return push(turns, 'user', [toolResult(m, where)]);
      default:
        throw new BadRequestError(
          `${where}.role ${JSON.stringify(m.role)} is not supported by Claude channels`,
          {
            param: 'messages',
          },
        );
    }
  });
  if (turns.length === 0)
    throw new BadRequestError(
      'Claude channels need at least one user or assistant message besides the system prompt',
      {
        param: 'messages',
      },
    );
  if (turns[0]!.role === 'assistant')
    turns.unshift({ role: 'user', content: [{ type: 'text', text: LEADING_USER_TEXT }] });
  turns.forEach(toolResultsFirst);

  const out: Json = { model, messages: turns };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  let max =
    typeof maxTokens === 'number' && maxTokens > 0
      ? Math.floor(maxTokens)
      : defaultMaxTokens(model, settings);

  const rfTool = responseFormatTool(body);
  const rf = body.response_format;
  if (isObj(rf) && rf.type === 'json_object') system.push(JSON_OBJECT_INSTRUCTION);
  if (isObj(rf) && rf.type === 'json_schema' && isObj(rf.json_schema) && rfTool === undefined)
    system.push(
      `Answer with one JSON value that matches this JSON Schema, and nothing else: ${JSON.stringify(rf.json_schema.schema ?? {})}`,
    );
  if (system.length > 0) out.system = system.join('\n\n');

  const effort = thinkingEffort(body);
  const clientTools = tools(body);
  if (rfTool !== undefined && isObj(rf) && isObj(rf.json_schema)) {
    const schema = isObj(rf.json_schema.schema) ? rf.json_schema.schema : { type: 'object' };
    out.tools = [{ name: rfTool, description: 'Give the answer as this tool input.', input_schema: schema }];
    out.tool_choice = { type: 'tool', name: rfTool };
  } else if (clientTools && clientTools.length > 0) {
    out.tools = clientTools;
    const choice = toolChoice(body, true);
    if (choice) out.tool_choice = choice;
  }

  // Claude refuses thinking together with a forced tool; the forced tool wins.
  const forced =
    isObj(out.tool_choice) && (out.tool_choice.type === 'any' || out.tool_choice.type === 'tool');
  if (effort !== undefined && !forced) {
    const budgetTokens = settings.thinking_budgets[effort] ?? DEFAULT_THINKING_BUDGETS[effort];
    // OpenAI's limit covers reasoning too; Claude wants max_tokens above the budget.
    if (max <= budgetTokens) max = budgetTokens + max;
    out.thinking = { type: 'enabled', budget_tokens: budgetTokens };
  } else {
    // With thinking on, Claude takes neither temperature nor (below 0.95) top_p.
    if (typeof body.temperature === 'number') out.temperature = Math.min(1, Math.max(0, body.temperature));
    if (typeof body.top_p === 'number') out.top_p = body.top_p;
  }
  out.max_tokens = max;

  // Claude refuses stop sequences that are only whitespace.
  const stops = (Array.isArray(body.stop) ? body.stop : [body.stop]).filter(
    (x): x is string => typeof x === 'string' && x.trim() !== '',
  );
  if (stops.length > 0) out.stop_sequences = stops;
  if (typeof body.top_k === 'number') out.top_k = body.top_k;
  if (typeof body.user === 'string' && body.user) out.metadata = { user_id: body.user };
  if (body.stream === true) out.stream = true;
  return out;
}
