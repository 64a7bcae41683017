import { BadRequestError } from '../../../errors/bad-request.error.js';
import {
  chatMessages,
  contentPieces,
  functionTools,
  maxTokens,
  numberField,
  stopSequences,
  textOf,
  toolArguments,
  toolChoice,
  type ContentPiece,
  type Json,
} from '../chat-translation.js';
import type { GeminiSettings } from './gemini-settings.js';

/**
 * OpenAI chat and embeddings requests as Gemini's `generateContent` and `batchEmbedContents`
 * bodies (https://ai.google.dev/api/generate-content).
 */

/**
 * Joins a tool call's id and the `thoughtSignature` Gemini put on the call. Thinking models
 * (Gemini 3) require the signature back on the call in the next turn; an OpenAI client keeps
 * only the id, so the signature travels in it: `call_…__thought__<signature>`.
 */
export const THOUGHT_SIGNATURE = '__thought__';

/** `reasoning_effort` → `thinkingConfig.thinkingBudget` (tokens; 0 turns thinking off). */
const THINKING_BUDGET: Record<string, number> = {
  none: 0,
  minimal: 128,
  low: 1024,
  medium: 8192,
  high: 24576,
};

/** Schema keys Gemini's OpenAPI-subset `Schema` accepts as they are. */
const SCHEMA_KEYS = [
  'format',
  'title',
  'description',
  'nullable',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'minProperties',
  'maxProperties',
  'required',
  'propertyOrdering',
  'default',
  'example',
];

/**
 * A JSON Schema (as OpenAI tools and `response_format` carry it) as Gemini's `Schema`: type
 * names upper-cased, `["string","null"]` as `nullable`, `oneOf` as `anyOf`, `const` as a
 * one-value enum; keys Gemini refuses (`$schema`, `additionalProperties`, `strict`…) dropped.
 */
export function geminiSchema(schema: unknown): Json {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return {};
  const s = schema as Json;
  const out: Json = {};
  let type = s.type;
  if (Array.isArray(type)) {
    const concrete = type.filter((t) => t !== 'null');
    if (concrete.length < type.length) out.nullable = true;
    type = concrete[0];
  }
  if (typeof type === 'string') out.type = type.toUpperCase();
  for (const k of SCHEMA_KEYS) if (s[k] !== undefined) out[k] = s[k];
  if (Array.isArray(s.enum)) out.enum = s.enum.map(String);
  if (s.const !== undefined) out.enum = [String(s.const)];
  if (s.properties && typeof s.properties === 'object') {
    out.properties = Object.fromEntries(
      Object.entries(s.properties as Json).map(([k, v]) => [k, geminiSchema(v)]),
    );
  }
  if (s.items !== undefined) out.items = geminiSchema(s.items);
  const anyOf = (s.anyOf ?? s.oneOf) as unknown;
  if (Array.isArray(anyOf)) out.anyOf = anyOf.map(geminiSchema);
  return out;
}

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

function part(p: ContentPiece): Json {
  switch (p.kind) {
    case 'text':
      return { text: p.text };
    case 'image':
    case 'audio':
      return { inlineData: { mimeType: p.mimeType, data: p.data } };
    case 'image-url': {
      // Gemini fetches a URL given as fileData; it needs the media type, read from the name.
      const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(p.url)?.[1]?.toLowerCase() ?? '';
      return { fileData: { mimeType: IMAGE_TYPES[ext] ?? 'image/jpeg', fileUri: p.url } };
    }
  }
}

interface Content {
  role: 'user' | 'model';
  parts: Json[];
}

/** Messages → `systemInstruction` + `contents`, tool results matched to their calls by id. */
function contents(body: Json): { system: Json | undefined; contents: Content[] } {
  const messages = chatMessages(body);
  const systemParts: Json[] = [];
  const out: Content[] = [];
  /** tool_call_id → function name: Gemini matches a functionResponse to its call by name. */
  const callNames = new Map<string, string>();
  const push = (role: Content['role'], parts: Json[]) => {
    if (parts.length === 0) return;
    const last = out[out.length - 1];
    // Gemini wants turns to alternate: consecutive messages of one side become one turn.
    if (last && last.role === role) last.parts.push(...parts);
    else out.push({ role, parts });
  };
  messages.forEach((m, i) => {
    const param = `messages[${i}].content`;
    switch (m.role) {
      case 'system':
      case 'developer':
        systemParts.push({ text: textOf(m.content, param) });
        break;
      case 'user':
        push('user', contentPieces(m.content, param).map(part));
        break;
      case 'assistant': {
        const parts = contentPieces(m.content, param).map((p): Json => {
          if (p.kind !== 'text')
            throw new BadRequestError(`${param}: an assistant message may only hold text`);
          return { text: p.text };
        });
        (m.tool_calls ?? []).forEach((call, j) => {
          callNames.set(call.id, call.function.name);
          const signature = call.id.split(THOUGHT_SIGNATURE)[1];
          parts.push({
            functionCall: {
              name: call.function.name,
              args: toolArguments(call, `messages[${i}].tool_calls[${j}]`),
            },
            ...(signature ? { thoughtSignature: signature } : {}),
          });
        });
        push('model', parts);
        break;
      }
      case 'tool': {
        const name = callNames.get(m.tool_call_id!);
        if (name === undefined)
          throw new BadRequestError(
            `messages[${i}].tool_call_id ${JSON.stringify(m.tool_call_id)} matches no tool call of an earlier assistant message`,
            { param: `messages[${i}].tool_call_id` },
          );
        const text = textOf(m.content, param);
        let response: Json;
        try {
          const parsed: unknown = JSON.parse(text);
          response =
            parsed && typeof parsed === 'object' && !Array.isArray(parsed)
              ? (parsed as Json)
              : { content: parsed };
        } catch {
          response = { content: text };
        }
        push('user', [{ functionResponse: { name, response } }]);
        break;
      }
    }
  });
  if (out.length === 0)
    throw new BadRequestError('`messages` needs at least one user or assistant message', {
      param: 'messages',
    });
  return { system: systemParts.length > 0 ? { parts: systemParts } : undefined, contents: out };
}

function generationConfig(body: Json): Json {
  const config: Json = {};
  const max = maxTokens(body);
  if (max !== undefined) config.maxOutputTokens = max;
  const temperature = numberField(body, 'temperature');
  if (temperature !== undefined) config.temperature = temperature;
  const topP = numberField(body, 'top_p');
  if (topP !== undefined) config.topP = topP;
  const n = numberField(body, 'n');
  if (n !== undefined) config.candidateCount = n;
  const presence = numberField(body, 'presence_penalty');
  if (presence !== undefined) config.presencePenalty = presence;
  const frequency = numberField(body, 'frequency_penalty');
  if (frequency !== undefined) config.frequencyPenalty = frequency;
  const seed = numberField(body, 'seed');
  if (seed !== undefined) config.seed = seed;
  const stop = stopSequences(body);
  if (stop) config.stopSequences = stop;
  const format = body.response_format as Json | undefined | null;
  if (format) {
    if (format.type === 'json_object') config.responseMimeType = 'application/json';
    else if (format.type === 'json_schema') {
      const schema = (format.json_schema as Json | undefined)?.schema;
      config.responseMimeType = 'application/json';
      if (schema) config.responseSchema = geminiSchema(schema);
    } else if (format.type !== 'text')
      throw new BadRequestError('`response_format.type` must be text, json_object or json_schema', {
        param: 'response_format',
      });
  }
  const effort = body.reasoning_effort;
  if (effort !== undefined && effort !== null) {
    const budget = typeof effort === 'string' ? THINKING_BUDGET[effort] : undefined;
    if (budget === undefined)
      throw new BadRequestError('`reasoning_effort` must be none, minimal, low, medium or high', {
        param: 'reasoning_effort',
      });
    config.thinkingConfig = { thinkingBudget: budget };
  }
  return config;
}

/** The `generateContent` body for an OpenAI chat request. */
export function generateContentBody(body: Json, settings: GeminiSettings): Json {
  const { system, contents: turns } = contents(body);
  const out: Json = { contents: turns };
  if (system) out.systemInstruction = system;
  const config = generationConfig(body);
  if (Object.keys(config).length > 0) out.generationConfig = config;
  if (settings.safety_settings?.length) out.safetySettings = settings.safety_settings;
  const tools = functionTools(body);
  if (tools.length > 0) {
    out.tools = [
      {
        functionDeclarations: tools.map((t) => ({
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          ...(t.parameters && Object.keys((t.parameters.properties as Json | undefined) ?? {}).length > 0
            ? { parameters: geminiSchema(t.parameters) }
            : {}),
        })),
      },
    ];
  }
  const choice = toolChoice(body);
  if (choice) {
    out.toolConfig = {
      functionCallingConfig:
        choice.mode === 'function'
          ? { mode: 'ANY', allowedFunctionNames: [choice.name] }
          : { mode: choice.mode === 'required' ? 'ANY' : choice.mode.toUpperCase() },
    };
  }
  return out;
}

/** The `batchEmbedContents` body for an OpenAI embeddings request (text inputs only). */
export function batchEmbedBody(body: Json, model: string): Json {
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string'))
    throw new BadRequestError('`input` must be a string or an array of strings for a Gemini channel', {
      param: 'input',
    });
  const dimensions = numberField(body, 'dimensions');
  return {
    requests: texts.map((text) => ({
      model: `models/${model}`,
      content: { parts: [{ text }] },
      ...(dimensions !== undefined ? { outputDimensionality: dimensions } : {}),
    })),
  };
}
