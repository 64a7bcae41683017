import { randomBytes } from 'node:crypto';
import type { NormalizedUsage } from '../../adapters/provider-adapter.js';

/**
 * The Responses API's answer shapes, as OpenAI documents them (the official `openai` client's
 * `Response`, `ResponseOutputItem` and `ResponseUsage` types; the unit tests check these against
 * them), and the translation of a whole chat completion into a Response object.
 */

type Json = Record<string, unknown>;

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: never[];
  logprobs: never[];
}

export interface OutputRefusal {
  type: 'refusal';
  refusal: string;
}

export interface MessageItem {
  type: 'message';
  id: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: (OutputText | OutputRefusal)[];
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: never[];
  content: { type: 'reasoning_text'; text: string }[];
  status: 'in_progress' | 'completed' | 'incomplete';
}

export type OutputItem = MessageItem | FunctionCallItem | ReasoningItem;

export interface ResponseUsageBody {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type TextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Json; description?: string; strict?: boolean | null };

export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; name: string }
  | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: Json[] };

export interface FunctionTool {
  type: 'function';
  name: string;
  description: string | null;
  parameters: Json | null;
  strict: boolean | null;
}

export interface ResponseBody {
  id: string;
  object: 'response';
  created_at: number;
  status: 'in_progress' | 'completed' | 'incomplete' | 'failed';
  completed_at: number | null;
  error: { code: 'server_error'; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: null;
  reasoning: { effort: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | null; summary: null };
  store: false;
  temperature: number | null;
  text: { format: TextFormat };
  tool_choice: ToolChoice;
  tools: FunctionTool[];
  top_p: number | null;
  truncation: 'disabled';
  /** Absent until the response ends (and when the upstream reported none). */
  usage?: ResponseUsageBody;
  user?: string;
  metadata: Record<string, string>;
}

/** A new id with OpenAI's prefix (`resp_`, `msg_`, `fc_`, `rs_`). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

/** The Response object's usage from normalised counts. */
export function usageBody(usage: NormalizedUsage): ResponseUsageBody {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedTokens, cache_write_tokens: usage.cacheWriteTokens },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/**
 * A Response object in progress: the request's settings echoed as OpenAI echoes them (from the
 * client's body when the relay hands it over; the documented defaults otherwise), no output yet.
 */
export function responseShell(
  id: string,
  model: string,
  request: Json | undefined,
  createdAt: number,
): ResponseBody {
  const r = request ?? {};
  // The request was validated (`validateResponsesRequest`): its fields have the documented shapes.
  const text =
    isObject(r.text) && isObject(r.text.format) ? (r.text.format as TextFormat) : { type: 'text' as const };
  const effort = isObject(r.reasoning) ? r.reasoning.effort : undefined;
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: typeof r.instructions === 'string' ? r.instructions : null,
    max_output_tokens: typeof r.max_output_tokens === 'number' ? r.max_output_tokens : null,
    model,
    output: [],
    parallel_tool_calls: typeof r.parallel_tool_calls === 'boolean' ? r.parallel_tool_calls : true,
    previous_response_id: null,
    reasoning: {
      effort: typeof effort === 'string' ? (effort as ResponseBody['reasoning']['effort']) : null,
      summary: null,
    },
    // The gateway keeps no response: it cannot be retrieved or continued later.
    store: false,
    temperature: typeof r.temperature === 'number' ? r.temperature : null,
    text: { format: text },
    tool_choice: (r.tool_choice as ToolChoice | undefined) ?? 'auto',
    tools: Array.isArray(r.tools) ? r.tools.filter(isObject).map(toolEcho) : [],
    top_p: typeof r.top_p === 'number' ? r.top_p : null,
    truncation: 'disabled',
    ...(typeof r.user === 'string' ? { user: r.user } : {}),
    metadata: isObject(r.metadata) ? (r.metadata as Record<string, string>) : {},
  };
}

function toolEcho(tool: Json): FunctionTool {
  return {
    type: 'function',
    name: String(tool.name),
    description: typeof tool.description === 'string' ? tool.description : null,
    parameters: isObject(tool.parameters) ? tool.parameters : null,
    strict: typeof tool.strict === 'boolean' ? tool.strict : null,
  };
}

/** Sets the final status from the chat finish reason (`length` and `content_filter` leave it incomplete). */
export function finish(
  response: ResponseBody,
  finishReason: unknown,
  usage: NormalizedUsage | undefined,
): void {
  if (finishReason === 'length' || finishReason === 'content_filter') {
    response.status = 'incomplete';
    response.incomplete_details = {
      reason: finishReason === 'length' ? 'max_output_tokens' : 'content_filter',
    };
  } else {
    response.status = 'completed';
  }
  response.completed_at = Math.floor(Date.now() / 1000);
  if (usage) response.usage = usageBody(usage);
  const itemStatus = response.status === 'incomplete' ? 'incomplete' : 'completed';
  for (const item of response.output) item.status = itemStatus;
}

/** A whole chat completion as a Response object. */
export function completionToResponse(
  completion: Json,
  usage: NormalizedUsage | undefined,
  model: string,
  request?: Json,
): ResponseBody {
  const created = typeof completion.created === 'number' ? completion.created : Math.floor(Date.now() / 1000);
  const response = responseShell(newId('resp'), model, request, created);
  const choice = Array.isArray(completion.choices) ? completion.choices.find(isObject) : undefined;
  const message = choice && isObject(choice.message) ? choice.message : {};
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === 'string' && reasoning !== '') {
    response.output.push({
      type: 'reasoning',
      id: newId('rs'),
      summary: [],
      content: [{ type: 'reasoning_text', text: reasoning }],
      status: 'completed',
    });
  }
  const content: MessageItem['content'] = [];
  if (typeof message.content === 'string' && message.content !== '') {
    content.push({ type: 'output_text', text: message.content, annotations: [], logprobs: [] });
  }
  if (typeof message.refusal === 'string' && message.refusal !== '') {
    content.push({ type: 'refusal', refusal: message.refusal });
  }
  if (content.length > 0) {
    response.output.push({
      type: 'message',
      id: newId('msg'),
      status: 'completed',
      role: 'assistant',
      content,
    });
  }
  for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
    if (!isObject(call) || !isObject(call.function)) continue;
    response.output.push({
      type: 'function_call',
      id: newId('fc'),
      call_id: typeof call.id === 'string' && call.id !== '' ? call.id : newId('call'),
      name: String(call.function.name ?? ''),
      arguments: typeof call.function.arguments === 'string' ? call.function.arguments : '{}',
      status: 'completed',
    });
  }
  finish(response, choice?.finish_reason, usage ?? usageOfCompletion(completion));
  return response;
}

/** An OpenAI chat `usage` object as normalised counts (for a completion handed over without them). */
export function usageOfCompletion(completion: Json): NormalizedUsage | undefined {
  const u = completion.usage;
  if (!isObject(u)) return undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const prompt = isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const completionDetails = isObject(u.completion_tokens_details) ? u.completion_tokens_details : {};
  return {
    promptTokens: num(u.prompt_tokens),
    completionTokens: num(u.completion_tokens),
    cachedTokens: num(prompt.cached_tokens),
    cacheWriteTokens: 0,
    reasoningTokens: num(completionDetails.reasoning_tokens),
  };
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
