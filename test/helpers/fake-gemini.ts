import type http from 'node:http';
import {
  isObject,
  sendJson,
  sleep,
  startFakeServer,
  unknownKeys,
  type FakeServer,
  type IncomingCall,
} from './fake-server.js';

/**
 * A fake of Google AI Studio's Gemini API (generativelanguage.googleapis.com), strict about its
 * wire format as the real one is: the key only in `x-goog-api-key` (a `?key=` in the URL is
 * refused here, since the gateway must never put one there), unknown fields refused with
 * INVALID_ARGUMENT, every part holding exactly one kind of data, function responses answering
 * the calls of the turn before them (same count, same names), streams only as `alt=sse`.
 * Checked against `@google/genai` in test/integration/fake-gemini.test.ts.
 *
 * Answers are deterministic: a text that echoes the last user text and counts its images, or,
 * when tools are declared and the last turn is not a function response, one call of each
 * declared function (args `{"<first property>": "Paris"}`); after function responses, a text
 * quoting them. Usage: prompt 21 (6 of them cached), candidates 9, thoughts 3 when a thinking
 * budget above 0 is set. Models named `gemini-3…` sign their function calls (`thoughtSignature`)
 * and refuse a later turn whose function calls come back without their signature, as Gemini 3 does.
 *
 * Modes (`base_url` `…/<label>/<mode>`): ok, 429 (RESOURCE_EXHAUSTED), 500 (INTERNAL), 401
 * (UNAUTHENTICATED), 403 (PERMISSION_DENIED),
 * 503 (UNAVAILABLE), badkey (400 API_KEY_INVALID), denied (403 PERMISSION_DENIED),
 * invalid (400 INVALID_ARGUMENT), blocked (prompt blocked: no candidates), safety (finishReason SAFETY), cut (stream: one event,
 * then the socket is destroyed), stall (200 then nothing), garbled (stream: an event whose data
 * is not JSON, cut off mid-object as a broken proxy might send it, then nothing more while the
 * connection stays open), garbledlater (the same right after one good event, in the same write). The key `AIza-bad` is
 * always refused.
 */
export interface GeminiCall {
  label: string;
  mode: string;
  method: string;
  /** `generateContent`, `streamGenerateContent`, `batchEmbedContents`, `models` */
  action: string;
  model: string;
  apiVersion: string;
  path: string;
  apiKey: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeGemini extends FakeServer {
  calls: GeminiCall[];
  /** Calls whose connection the caller closed before the answer ended. */
  cutOff: GeminiCall[];
}

export const GEMINI_KEY = 'AIza-test-key';
export const GEMINI_USAGE = { prompt: 21, cached: 6, candidates: 9, thoughts: 3 };
export const GEMINI_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-embedding-001'];

class Invalid extends Error {}

function invalid(message: string): never {
  throw new Invalid(message);
}

/** The modes in which the fake always fails: code, status, message (and reason), as Google words them. */
const GOOGLE_FAILURES: Record<string, [code: number, status: string, message: string, reason?: string]> = {
  '429': [429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota.', 'RATE_LIMIT_EXCEEDED'],
  '500': [500, 'INTERNAL', 'An internal error has occurred.'],
  '503': [503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  denied: [403, 'PERMISSION_DENIED', 'Permission denied: Consumer has been suspended.', 'CONSUMER_SUSPENDED'],
  '401': [401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  '403': [403, 'PERMISSION_DENIED', 'The caller does not have permission'],
  invalid: [400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.'],
};

function googleError(
  res: http.ServerResponse,
  code: number,
  status: string,
  message: string,
  reason?: string,
) {
  sendJson(res, code, {
    error: {
      code,
      message,
      status,
      ...(reason
        ? {
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                reason,
                domain: 'googleapis.com',
                metadata: { service: 'generativelanguage.googleapis.com' },
              },
            ],
          }
        : {}),
    },
  });
}

const PART_KINDS = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
];
const PART_KEYS = [...PART_KINDS, 'thought', 'thoughtSignature', 'videoMetadata', 'partMetadata'];
const GENERATION_KEYS = [
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseModalities',
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseLogprobs',
  'logprobs',
  'thinkingConfig',
  'speechConfig',
  'mediaResolution',
];
const SCHEMA_TYPES = [
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
];
const SCHEMA_KEYS = [
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
];

function checkSchema(s: unknown, where: string): void {
  if (!isObject(s)) invalid(`${where}: a Schema object`);
  const extra = unknownKeys(s, SCHEMA_KEYS);
  if (extra.length) invalid(`Invalid JSON payload received. Unknown name "${extra[0]}" at '${where}'`);
  if (s.type !== undefined && !SCHEMA_TYPES.includes(s.type as string))
    invalid(
      `Invalid value at '${where}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), "${String(s.type)}"`,
    );
  if (s.type === 'OBJECT' && isObject(s.properties) && Object.keys(s.properties).length === 0)
    invalid(`${where}.properties: should be non-empty for OBJECT type`);
  if (isObject(s.properties))
    for (const [k, v] of Object.entries(s.properties)) checkSchema(v, `${where}.properties[${k}]`);
  if (s.items !== undefined) checkSchema(s.items, `${where}.items`);
  if (Array.isArray(s.anyOf)) s.anyOf.forEach((a, i) => checkSchema(a, `${where}.anyOf[${i}]`));
}

function checkPart(p: unknown, where: string): Record<string, unknown> {
  if (!isObject(p)) invalid(`${where}: a Part object`);
  const extra = unknownKeys(p, PART_KEYS);
  if (extra.length) invalid(`Invalid JSON payload received. Unknown name "${extra[0]}" at '${where}'`);
  const kinds = PART_KINDS.filter((k) => p[k] !== undefined);
  if (kinds.length !== 1)
    invalid(`${where}: a part must hold exactly one kind of data, got ${kinds.join(', ') || 'none'}`);
  if (p.text !== undefined && typeof p.text !== 'string') invalid(`${where}.text: a string`);
  if (p.inlineData !== undefined) {
    const d = p.inlineData as Record<string, unknown>;
    if (
      !isObject(d) ||
      typeof d.mimeType !== 'string' ||
      typeof d.data !== 'string' ||
      !/^[A-Za-z0-9+/_-]*=*$/.test(d.data)
    )
      invalid(`${where}.inlineData: mimeType and base64 data`);
  }
  if (p.fileData !== undefined) {
    const d = p.fileData as Record<string, unknown>;
    if (!isObject(d) || typeof d.fileUri !== 'string') invalid(`${where}.fileData: a fileUri`);
  }
  if (p.functionCall !== undefined) {
    const c = p.functionCall as Record<string, unknown>;
    if (!isObject(c) || typeof c.name !== 'string' || (c.args !== undefined && !isObject(c.args)))
      invalid(`${where}.functionCall: a name and an args object`);
  }
  if (p.functionResponse !== undefined) {
    const r = p.functionResponse as Record<string, unknown>;
    if (!isObject(r) || typeof r.name !== 'string' || !isObject(r.response))
      invalid(`${where}.functionResponse: a name and a response object`);
  }
  return p;
}

/** Checks a `generateContent` body as the real API does (the parts the gateway may send). */
export function checkGenerateContent(body: Record<string, unknown>, model = ''): void {
  const extra = unknownKeys(body, [
    'contents',
    'systemInstruction',
    'generationConfig',
    'safetySettings',
    'tools',
    'toolConfig',
    'cachedContent',
  ]);
  if (extra.length) invalid(`Invalid JSON payload received. Unknown name "${extra[0]}": Cannot find field.`);
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    invalid('* GenerateContentRequest.contents: contents is not specified');
  let previousCalls: string[] = [];
  body.contents.forEach((c: unknown, i) => {
    if (!isObject(c)) invalid(`contents[${i}]: a Content object`);
    if (unknownKeys(c, ['role', 'parts']).length) invalid(`contents[${i}]: unknown field`);
    if (c.role !== 'user' && c.role !== 'model')
      invalid(`Please use a valid role: user, model. (contents[${i}].role ${JSON.stringify(c.role)})`);
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`);
    const parts = c.parts.map((p: unknown, j) => checkPart(p, `contents[${i}].parts[${j}]`));
    const responses = parts
      .filter((p) => p.functionResponse)
      .map((p) => (p.functionResponse as { name: string }).name);
    if (responses.length > 0) {
      if (c.role !== 'user') invalid(`contents[${i}]: function responses come from the user role`);
      if (
        responses.length !== previousCalls.length ||
        [...responses].sort().join() !== [...previousCalls].sort().join()
      )
        invalid(
          'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
        );
    }
    previousCalls = parts.filter((p) => p.functionCall).map((p) => (p.functionCall as { name: string }).name);
    // Gemini 3 answers its function calls with a thought signature and wants it back on them.
    if (
      model.startsWith('gemini-3') &&
      parts.some((p) => p.functionCall && !/^sig-/.test(String(p.thoughtSignature)))
    )
      invalid(
        `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly (contents[${i}]).`,
      );
    if (previousCalls.length > 0 && c.role !== 'model')
      invalid(`contents[${i}]: function calls come from the model role`);
  });
  if (body.systemInstruction !== undefined) {
    const s = body.systemInstruction as Record<string, unknown>;
    if (!isObject(s) || !Array.isArray(s.parts) || s.parts.length === 0)
      invalid('systemInstruction: a Content with parts');
    s.parts.forEach((p: unknown, j) => {
      if (typeof checkPart(p, `systemInstruction.parts[${j}]`).text !== 'string')
        invalid('systemInstruction: text parts only');
    });
  }
  if (body.generationConfig !== undefined) {
    const g = body.generationConfig as Record<string, unknown>;
    if (!isObject(g)) invalid('generationConfig: an object');
    const bad = unknownKeys(g, GENERATION_KEYS);
    if (bad.length) invalid(`Invalid JSON payload received. Unknown name "${bad[0]}" at 'generation_config'`);
    if (g.responseSchema !== undefined) checkSchema(g.responseSchema, 'generation_config.response_schema');
    if (g.responseSchema !== undefined && g.responseMimeType !== 'application/json')
      invalid('generation_config.response_mime_type: responseSchema needs application/json');
    if (g.thinkingConfig !== undefined) {
      const t = g.thinkingConfig as Record<string, unknown>;
      if (!isObject(t) || unknownKeys(t, ['thinkingBudget', 'includeThoughts', 'thinkingLevel']).length)
        invalid('generation_config.thinking_config: unknown field');
    }
    if (g.stopSequences !== undefined && (!Array.isArray(g.stopSequences) || g.stopSequences.length > 5))
      invalid('generation_config.stop_sequences: at most 5');
  }
  if (body.safetySettings !== undefined) {
    if (!Array.isArray(body.safetySettings)) invalid('safetySettings: a list');
    for (const s of body.safetySettings as unknown[]) {
      if (!isObject(s) || typeof s.category !== 'string' || typeof s.threshold !== 'string')
        invalid('safetySettings[]: category and threshold');
    }
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) invalid('tools: a list');
    body.tools.forEach((t: unknown, i) => {
      if (
        !isObject(t) ||
        unknownKeys(t, ['functionDeclarations', 'googleSearch', 'codeExecution', 'urlContext']).length
      )
        invalid(`tools[${i}]: unknown field`);
      for (const [j, f] of ((t.functionDeclarations as unknown[]) ?? []).entries()) {
        if (!isObject(f) || typeof f.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(f.name))
          invalid(`tools[${i}].function_declarations[${j}].name: invalid`);
        if (
          unknownKeys(f, [
            'name',
            'description',
            'parameters',
            'parametersJsonSchema',
            'response',
            'behavior',
          ]).length
        )
          invalid(`tools[${i}].function_declarations[${j}]: unknown field`);
        if (f.parameters !== undefined)
          checkSchema(f.parameters, `tools[${i}].function_declarations[${j}].parameters`);
      }
    });
  }
  if (body.toolConfig !== undefined) {
    const fc = (body.toolConfig as Record<string, unknown>).functionCallingConfig as Record<string, unknown>;
    if (!isObject(fc) || !['AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(fc.mode as string))
      invalid('tool_config.function_calling_config.mode: AUTO, ANY, NONE or VALIDATED');
    if (fc.allowedFunctionNames !== undefined && fc.mode !== 'ANY')
      invalid('allowed_function_names may only be set when mode is ANY');
  }
}

interface Reply {
  parts: Record<string, unknown>[];
  finishReason: string;
}

function lastText(contents: Record<string, unknown>[]): {
  text: string;
  images: number;
  responses: unknown[];
} {
  const last = contents[contents.length - 1]!;
  const parts = last.parts as Record<string, unknown>[];
  return {
    text: parts
      .map((p) => p.text)
      .filter((t): t is string => typeof t === 'string')
      .join(' '),
    images: parts.filter((p) => p.inlineData || p.fileData).length,
    responses: parts.filter((p) => p.functionResponse).map((p) => p.functionResponse),
  };
}

function reply(body: Record<string, unknown>, mode: string, model: string): Reply {
  const contents = body.contents as Record<string, unknown>[];
  const { text, images, responses } = lastText(contents);
  if (mode === 'safety') return { parts: [{ text: 'I cannot' }], finishReason: 'SAFETY' };
  const declared = ((body.tools as Record<string, unknown>[] | undefined) ?? []).flatMap(
    (t) => (t.functionDeclarations as Record<string, unknown>[] | undefined) ?? [],
  );
  const callingMode = (
    (body.toolConfig as Record<string, unknown> | undefined)?.functionCallingConfig as
      Record<string, unknown> | undefined
  )?.mode;
  if (responses.length > 0)
    return { parts: [{ text: `Results: ${JSON.stringify(responses)}` }], finishReason: 'STOP' };
  if (declared.length > 0 && callingMode !== 'NONE') {
    const allowed = (
      body.toolConfig as { functionCallingConfig?: { allowedFunctionNames?: string[] } } | undefined
    )?.functionCallingConfig?.allowedFunctionNames;
    return {
      parts: declared
        .filter((f) => !allowed || allowed.includes(f.name as string))
        .map((f) => {
          const props = Object.keys(
            ((f.parameters as Record<string, unknown> | undefined)?.properties as object) ?? {},
          );
          return {
            functionCall: { name: f.name, args: props.length ? { [props[0]!]: 'Paris' } : {} },
            ...(model.startsWith('gemini-3')
              ? { thoughtSignature: `sig-${String(f.name)}-${Buffer.from(model).toString('base64')}` }
              : {}),
          };
        }),
      finishReason: 'STOP',
    };
  }
  const json =
    (body.generationConfig as Record<string, unknown> | undefined)?.responseMimeType === 'application/json';
  const answer = json
    ? JSON.stringify({ echo: text, images })
    : `Hello from Gemini: ${text}${images > 0 ? ` [${images} image${images > 1 ? 's' : ''}]` : ''}`;
  return { parts: [{ text: answer }], finishReason: 'STOP' };
}

function usageOf(body: Record<string, unknown>): Record<string, number> {
  const budget = (
    (body.generationConfig as Record<string, unknown> | undefined)?.thinkingConfig as
      Record<string, unknown> | undefined
  )?.thinkingBudget;
  const thoughts = typeof budget === 'number' && budget > 0 ? GEMINI_USAGE.thoughts : 0;
  return {
    promptTokenCount: GEMINI_USAGE.prompt,
    cachedContentTokenCount: GEMINI_USAGE.cached,
    candidatesTokenCount: GEMINI_USAGE.candidates,
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    totalTokenCount: GEMINI_USAGE.prompt + GEMINI_USAGE.candidates + thoughts,
  };
}

function candidateCount(body: Record<string, unknown>): number {
  const n = (body.generationConfig as Record<string, unknown> | undefined)?.candidateCount;
  return typeof n === 'number' ? n : 1;
}

export async function startFakeGemini(): Promise<FakeGemini> {
  const calls: GeminiCall[] = [];
  const cutOff: GeminiCall[] = [];
  const server = await startFakeServer(
    (s) => /^v\d/.test(s),
    async (call, res) => handle(call, res),
  );

  async function handle(call: IncomingCall, res: http.ServerResponse): Promise<void> {
    const url = new URL(call.path, 'http://fake');
    const m = /^\/(v\d+(?:alpha|beta)?\d*)\/models(?:\/([^/:]+)(?::(\w+))?)?$/.exec(url.pathname);
    const apiKey = call.headers['x-goog-api-key'] as string | undefined;
    let body: Record<string, unknown> = {};
    if (call.raw.length > 0) {
      try {
        body = JSON.parse(call.raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
      }
    }
    const action = m ? (m[3] ?? (m[2] ? 'get' : 'models')) : 'unknown';
    const entry: GeminiCall = {
      label: call.label,
      mode: call.mode,
      method: call.method,
      action,
      model: m?.[2] ? decodeURIComponent(m[2]) : '',
      apiVersion: m?.[1] ?? '',
      path: call.path,
      apiKey,
      body,
    };
    calls.push(entry);
    res.on('close', () => {
      if (!res.writableFinished) cutOff.push(entry);
    });
    if (!m) return googleError(res, 404, 'NOT_FOUND', `Method not found: ${url.pathname}`);
    if (url.searchParams.has('key'))
      return googleError(res, 400, 'INVALID_ARGUMENT', 'fake: the key must not be in the URL');
    if (!apiKey)
      return googleError(
        res,
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity).",
      );
    if (apiKey === 'AIza-bad' || call.mode === 'badkey')
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        'API key not valid. Please pass a valid API key.',
        'API_KEY_INVALID',
      );
    const failure = Object.hasOwn(GOOGLE_FAILURES, call.mode) ? GOOGLE_FAILURES[call.mode] : undefined;
    if (failure) return googleError(res, ...failure);
    switch (call.mode) {
      case 'stall':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return;
    }
    if (action === 'models') {
      if (call.method !== 'GET') return googleError(res, 405, 'INVALID_ARGUMENT', 'models: GET');
      return sendJson(res, 200, {
        models: GEMINI_MODELS.map((name) => ({
          name: `models/${name}`,
          displayName: name,
          supportedGenerationMethods: name.includes('embedding')
            ? ['embedContent']
            : ['generateContent', 'countTokens'],
        })),
      });
    }
    if (call.method !== 'POST') return googleError(res, 404, 'NOT_FOUND', 'POST only');
    if (call.headers['content-type']?.split(';')[0] !== 'application/json')
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Content-Type must be application/json');
    try {
      if (action === 'batchEmbedContents') return embed(entry, res);
      if (action !== 'generateContent' && action !== 'streamGenerateContent')
        return googleError(res, 404, 'NOT_FOUND', `Unknown action ${action}`);
      checkGenerateContent(body, entry.model);
    } catch (err) {
      if (err instanceof Invalid) return googleError(res, 400, 'INVALID_ARGUMENT', err.message);
      throw err;
    }
    const usage = usageOf(body);
    const responseId = `fake-${calls.length}`;
    if (call.mode === 'blocked') {
      const blocked = {
        promptFeedback: { blockReason: 'SAFETY' },
        usageMetadata: { promptTokenCount: GEMINI_USAGE.prompt, totalTokenCount: GEMINI_USAGE.prompt },
        modelVersion: entry.model,
        responseId,
      };
      if (action === 'generateContent') return sendJson(res, 200, blocked);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify(blocked)}\r\n\r\n`);
      return;
    }
    const n = candidateCount(body);
    const replies = Array.from({ length: n }, () => reply(body, call.mode, entry.model));
    if (action === 'generateContent') {
      return sendJson(res, 200, {
        candidates: replies.map((r, index) => ({
          content: { role: 'model', parts: r.parts },
          finishReason: r.finishReason,
          index,
          safetyRatings: [],
        })),
        usageMetadata: usage,
        modelVersion: entry.model,
        responseId,
      });
    }
    if (url.searchParams.get('alt') !== 'sse')
      return googleError(res, 400, 'INVALID_ARGUMENT', 'fake: streams are served as alt=sse only');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // Text comes in pieces; function calls whole, each in its own event; the last event of a
    // candidate carries its finishReason; usage on every event, final on the last.
    const events: Record<string, unknown>[] = [];
    replies.forEach((r, index) => {
      r.parts.forEach((p, k) => {
        const last = k === r.parts.length - 1;
        if (typeof p.text === 'string') {
          const words = p.text.split(/(?<= )/);
          words.forEach((w, j) => {
            events.push({
              candidates: [
                {
                  content: { role: 'model', parts: [{ text: w }] },
                  index,
                  ...(last && j === words.length - 1 ? { finishReason: r.finishReason } : {}),
                },
              ],
            });
          });
        } else {
          events.push({
            candidates: [
              {
                content: { role: 'model', parts: [p] },
                index,
                ...(last ? { finishReason: r.finishReason } : {}),
              },
            ],
          });
        }
      });
    });
    // An event cut off mid-object (a broken proxy's); the connection then stays open.
    const garbled = `data: {"candidates": [{"content": {"role": "model", "parts": [{"te\r\n\r\n`;
    if (call.mode === 'garbled') {
      res.write(garbled);
      return;
    }
    for (const [i, e] of events.entries()) {
      const last = i === events.length - 1;
      const partial = { promptTokenCount: GEMINI_USAGE.prompt, totalTokenCount: GEMINI_USAGE.prompt };
      const event = `data: ${JSON.stringify({ ...e, usageMetadata: last ? usage : partial, modelVersion: entry.model, responseId })}\r\n\r\n`;
      if (call.mode === 'garbledlater') {
        // In one write with the good event: the reader meets both in the same chunk.
        res.write(event + garbled);
        return;
      }
      res.write(event);
      if (call.mode === 'cut') {
        await sleep(20);
        res.destroy();
        return;
      }
      await sleep(1);
    }
    res.end();
  }

  function embed(entry: GeminiCall, res: http.ServerResponse): void {
    const requests = entry.body.requests;
    if (unknownKeys(entry.body, ['requests']).length || !Array.isArray(requests) || requests.length === 0)
      invalid('* BatchEmbedContentsRequest.requests: requests is not specified');
    const embeddings = requests.map((r: unknown, i) => {
      if (
        !isObject(r) ||
        unknownKeys(r, ['model', 'content', 'taskType', 'title', 'outputDimensionality']).length
      )
        invalid(`requests[${i}]: unknown field`);
      if (r.model !== `models/${entry.model}`)
        invalid(
          `requests[${i}].model: must be the model of the request URL (models/${entry.model}), got ${String(r.model)}`,
        );
      const content = r.content as Record<string, unknown>;
      if (!isObject(content) || !Array.isArray(content.parts) || content.parts.length === 0)
        invalid(`requests[${i}].content: parts required`);
      const text = content.parts
        .map((p: unknown, j) => checkPart(p, `requests[${i}].content.parts[${j}]`).text ?? '')
        .join('');
      const dims = typeof r.outputDimensionality === 'number' ? r.outputDimensionality : 8;
      return { values: Array.from({ length: dims }, (_, d) => Number(((text.length + d) / 100).toFixed(4))) };
    });
    sendJson(res, 200, { embeddings });
  }

  return {
    ...server,
    calls,
    cutOff,
    async close() {
      await server.close();
    },
  };
}
