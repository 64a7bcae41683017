import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, Hash, toUtf8 } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
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
 * A fake of Amazon Bedrock's runtime (Converse, ConverseStream) and its model list, strict as
 * the real service is. Every request must be authorised: a Bedrock API key as Bearer, or a
 * SigV4 signature that the fake VERIFIES by recomputing it with the same signer library from
 * the known test credentials (service `bedrock`, the signed headers, the body, the date within
 * five minutes, the session token when the credentials have one). Converse bodies are checked:
 * unknown fields, alternating roles starting with the user, non-blank text, image formats,
 * tool results answering exactly the tool uses before them, `toolConfig` present whenever tool
 * blocks are. Errors come as AWS does: `x-amzn-ErrorType` header and `{"message"}`; stream
 * exceptions as `exception` frames. Checked with `@aws-sdk/client-bedrock-runtime` in
 * test/integration/fake-bedrock.test.ts.
 *
 * Answers: a text echoing the last user text (and counting its images), or one `toolUse` per
 * declared tool (input `{"<first property>": "Paris"}`) when tools are declared and the last
 * user turn holds no tool result; after tool results, a text quoting them. Usage: input 14,
 * output 7, cache read 4, cache write 2.
 *
 * Modes (`base_url` `…/<label>/<mode>`): ok, 429 (ThrottlingException), 500
 * (InternalServerException), 503 (ServiceUnavailableException), denied (403
 * AccessDeniedException; 403 too), 401 (403 UnrecognizedClientException: AWS has no 401), invalid (400 ValidationException), midthrottle (stream: a delta, then a throttlingException frame),
 * cut (stream: messageStart and one delta, then the socket is destroyed), stall (200, then nothing).
 */
export const BEDROCK_CREDENTIALS = {
  accessKeyId: 'AKIAFAKEBEDROCK00001',
  secretAccessKey: 'fake/secret+key/for-tests-0000000000000',
};
export const BEDROCK_SESSION_CREDENTIALS = {
  accessKeyId: 'ASIAFAKEBEDROCK00002',
  secretAccessKey: 'fake/session+secret/for-tests-000000000',
  sessionToken: 'FwoGZXIvYXdzEFAKE//session+token=',
};
export const BEDROCK_API_KEY = 'ABSKfakeBedrockApiKeyForTests0000';
export const BEDROCK_USAGE = { input: 14, output: 7, cacheRead: 4, cacheWrite: 2 };
export const BEDROCK_MODELS = ['anthropic.claude-3-5-haiku-20241022-v1:0', 'amazon.nova-lite-v1:0'];

export interface BedrockCall {
  label: string;
  mode: string;
  method: string;
  /** `converse`, `converse-stream`, `foundation-models` */
  operation: string;
  modelId: string;
  /** `sigv4` (verified) or `bearer` */
  auth: string;
  region: string | undefined;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface FakeBedrock extends FakeServer {
  calls: BedrockCall[];
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly exception: string,
    message: string,
  ) {
    super(message);
  }
}

function validation(message: string): never {
  throw new Refusal(400, 'ValidationException', message);
}

function awsError(res: http.ServerResponse, status: number, exception: string, message: string): void {
  sendJson(
    res,
    status,
    { message },
    {
      'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': randomBytes(16).toString('hex'),
    },
  );
}

const SHA256 = Hash.bind(null, 'sha256');

const SECRETS = new Map<string, { secretAccessKey: string; sessionToken?: string }>([
  [BEDROCK_CREDENTIALS.accessKeyId, BEDROCK_CREDENTIALS],
  [BEDROCK_SESSION_CREDENTIALS.accessKeyId, BEDROCK_SESSION_CREDENTIALS],
]);

/** Parses `20261129T083000Z`. */
function amzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : undefined;
}

/** Checks the request's authorisation; returns how it was authorised and the signing region. */
async function authorise(call: IncomingCall): Promise<{ auth: string; region?: string }> {
  const header = call.headers.authorization;
  if (!header) throw new Refusal(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  if (header.startsWith('Bearer ')) {
    if (header.slice(7) !== BEDROCK_API_KEY)
      throw new Refusal(
        403,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    return { auth: 'bearer' };
  }
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (!m)
    throw new Refusal(
      403,
      'IncompleteSignatureException',
      `Authorization header is not a SigV4 header: ${header}`,
    );
  const [, accessKeyId, day, region, service, signedHeaders] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const secret = SECRETS.get(accessKeyId);
  if (!secret)
    throw new Refusal(
      403,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  if (service !== 'bedrock')
    throw new Refusal(
      403,
      'InvalidSignatureException',
      `Credential should be scoped to correct service: 'bedrock'.`,
    );
  const dateText = call.headers['x-amz-date'];
  const date = typeof dateText === 'string' ? amzDate(dateText) : undefined;
  if (!date || !(dateText as string).startsWith(day))
    throw new Refusal(
      403,
      'IncompleteSignatureException',
      'Authorization needs a signed X-Amz-Date matching the credential scope.',
    );
  if (Math.abs(Date.now() - date.getTime()) > 5 * 60_000)
    throw new Refusal(
      403,
      'InvalidSignatureException',
      'Signature expired: the date is more than 5 minutes from now.',
    );
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date'))
    throw new Refusal(403, 'InvalidSignatureException', 'host and x-amz-date must be signed.');
  if (secret.sessionToken) {
    if (
      call.headers['x-amz-security-token'] !== secret.sessionToken ||
      !names.includes('x-amz-security-token')
    )
      throw new Refusal(
        403,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
  }
  const headers: Record<string, string> = {};
  for (const name of names) {
    const v = call.headers[name];
    if (v === undefined)
      throw new Refusal(403, 'InvalidSignatureException', `Signed header ${name} is missing.`);
    headers[name] = Array.isArray(v) ? v.join(',') : v;
  }
  const host = new URL(`http://${headers.host}`);
  const [path, search = ''] = call.rawPath.split('?', 2) as [string, string | undefined];
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  const signer = new SignatureV4({
    service,
    region,
    sha256: SHA256,
    credentials: { accessKeyId, ...secret },
  });
  const expected = await signer.sign(
    {
      method: call.method,
      protocol: 'http:',
      hostname: host.hostname,
      ...(host.port ? { port: Number(host.port) } : {}),
      path,
      query,
      headers,
      body: call.raw,
    },
    { signingDate: date },
  );
  if (expected.headers.authorization !== header)
    throw new Refusal(
      403,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  return { auth: 'sigv4', region };
}

const BLOCK_KINDS = [
  'text',
  'image',
  'document',
  'video',
  'toolUse',
  'toolResult',
  'guardContent',
  'cachePoint',
  'reasoningContent',
  'citationsContent',
];

function checkBlock(b: unknown, where: string): Record<string, unknown> {
  if (!isObject(b)) validation(`${where}: a ContentBlock`);
  const kinds = Object.keys(b);
  if (kinds.length !== 1 || !BLOCK_KINDS.includes(kinds[0]!))
    validation(`Invalid ContentBlock at ${where}: exactly one member of ${BLOCK_KINDS.join(', ')}`);
  if (b.text !== undefined && (typeof b.text !== 'string' || b.text.trim() === ''))
    validation(
      `The text field in the ContentBlock object at ${where} is blank. Add text to the text field, and try again.`,
    );
  if (b.image !== undefined) {
    const img = b.image as Record<string, unknown>;
    const bytes = (img?.source as Record<string, unknown> | undefined)?.bytes;
    if (!['png', 'jpeg', 'gif', 'webp'].includes(img?.format as string))
      validation(`${where}.image.format: Member must satisfy enum value set: [png, jpeg, gif, webp]`);
    if (typeof bytes !== 'string' || !/^[A-Za-z0-9+/]*=*$/.test(bytes))
      validation(`${where}.image.source.bytes: base64`);
  }
  if (b.toolUse !== undefined) {
    const t = b.toolUse as Record<string, unknown>;
    if (
      !isObject(t) ||
      typeof t.toolUseId !== 'string' ||
      typeof t.name !== 'string' ||
      t.input === undefined
    )
      validation(`${where}.toolUse: toolUseId, name and input`);
  }
  if (b.toolResult !== undefined) {
    const t = b.toolResult as Record<string, unknown>;
    if (!isObject(t) || typeof t.toolUseId !== 'string' || !Array.isArray(t.content))
      validation(`${where}.toolResult: toolUseId and content`);
    for (const c of t.content as unknown[]) {
      if (
        !isObject(c) ||
        Object.keys(c).length !== 1 ||
        !['text', 'json', 'image', 'document', 'video'].includes(Object.keys(c)[0]!)
      )
        validation(`${where}.toolResult.content: text, json, image, document or video blocks`);
    }
  }
  return b;
}

/** Checks a Converse body as the real service does (the parts the gateway may send). */
export function checkConverse(body: Record<string, unknown>): void {
  const extra = unknownKeys(body, [
    'messages',
    'system',
    'inferenceConfig',
    'toolConfig',
    'guardrailConfig',
    'additionalModelRequestFields',
    'promptVariables',
    'additionalModelResponseFieldPaths',
    'requestMetadata',
    'performanceConfig',
  ]);
  if (extra.length) validation(`Unknown field: ${extra[0]}`);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) validation('messages: must have at least 1 message');
  let usesTools = false;
  let pendingUses: string[] = [];
  messages.forEach((m: unknown, i) => {
    if (!isObject(m) || unknownKeys(m, ['role', 'content']).length)
      validation(`messages.${i}: role and content only`);
    if (m.role !== 'user' && m.role !== 'assistant')
      validation(`messages.${i}.role: Member must satisfy enum value set: [user, assistant]`);
    if (
      (i === 0 && m.role !== 'user') ||
      (i > 0 && (messages[i - 1] as Record<string, unknown>).role === m.role)
    )
      validation(
        'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      );
    if (!Array.isArray(m.content) || m.content.length === 0)
      validation(`messages.${i}.content: must not be empty`);
    const blocks = m.content.map((b: unknown, j) => checkBlock(b, `messages.${i}.content.${j}`));
    const results = blocks
      .filter((b) => b.toolResult)
      .map((b) => (b.toolResult as { toolUseId: string }).toolUseId);
    if (m.role === 'user' && (pendingUses.length > 0 || results.length > 0)) {
      if ([...results].sort().join() !== [...pendingUses].sort().join())
        validation(
          `Expected toolResult blocks at messages.${i}.content for the following Ids: ${pendingUses.join(', ')}`,
        );
    }
    const uses = blocks.filter((b) => b.toolUse).map((b) => (b.toolUse as { toolUseId: string }).toolUseId);
    if (m.role === 'assistant') pendingUses = uses;
    else pendingUses = [];
    if (uses.length || results.length) usesTools = true;
  });
  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) validation('system: a list');
    body.system.forEach((s: unknown, i) => {
      if (!isObject(s) || typeof s.text !== 'string' || s.text.trim() === '')
        validation(`system.${i}: a non-blank text`);
    });
  }
  if (body.inferenceConfig !== undefined) {
    const c = body.inferenceConfig as Record<string, unknown>;
    if (!isObject(c) || unknownKeys(c, ['maxTokens', 'temperature', 'topP', 'stopSequences']).length)
      validation('inferenceConfig: maxTokens, temperature, topP, stopSequences only');
    if (c.maxTokens !== undefined && (!Number.isInteger(c.maxTokens) || (c.maxTokens as number) < 1))
      validation('inferenceConfig.maxTokens: Member must have value greater than or equal to 1');
    if (c.temperature !== undefined && !((c.temperature as number) >= 0 && (c.temperature as number) <= 1))
      validation('inferenceConfig.temperature: Member must have value less than or equal to 1');
    if (c.stopSequences !== undefined && (!Array.isArray(c.stopSequences) || c.stopSequences.length > 4))
      validation('inferenceConfig.stopSequences: Member must have length less than or equal to 4');
  }
  if (body.toolConfig !== undefined) {
    const t = body.toolConfig as Record<string, unknown>;
    if (!isObject(t) || unknownKeys(t, ['tools', 'toolChoice']).length)
      validation('toolConfig: tools and toolChoice only');
    if (!Array.isArray(t.tools) || t.tools.length === 0)
      validation('toolConfig.tools: must have at least 1 tool');
    for (const [i, tool] of (t.tools as unknown[]).entries()) {
      const spec = (tool as Record<string, unknown>)?.toolSpec as Record<string, unknown> | undefined;
      if (!isObject(spec) || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name))
        validation(
          `toolConfig.tools.${i}.toolSpec.name: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+`,
        );
      if (!isObject(spec.inputSchema) || !isObject(spec.inputSchema.json))
        validation(`toolConfig.tools.${i}.toolSpec.inputSchema: a json schema`);
    }
    if (t.toolChoice !== undefined) {
      const c = t.toolChoice as Record<string, unknown>;
      const key = isObject(c) ? Object.keys(c) : [];
      if (key.length !== 1 || !['auto', 'any', 'tool'].includes(key[0]!))
        validation('toolConfig.toolChoice: auto, any or tool');
    }
  } else if (usesTools)
    validation('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
}

interface Reply {
  blocks: Record<string, unknown>[];
  stopReason: string;
}

function reply(body: Record<string, unknown>): Reply {
  const messages = body.messages as { role: string; content: Record<string, unknown>[] }[];
  const last = messages[messages.length - 1]!;
  const results = last.content.filter((b) => b.toolResult).map((b) => b.toolResult);
  if (results.length > 0)
    return { blocks: [{ text: `Results: ${JSON.stringify(results)}` }], stopReason: 'end_turn' };
  const toolConfig = body.toolConfig as
    { tools: { toolSpec: Record<string, unknown> }[]; toolChoice?: { tool?: { name: string } } } | undefined;
  if (toolConfig) {
    const only = toolConfig.toolChoice?.tool?.name;
    return {
      blocks: toolConfig.tools
        .map((t) => t.toolSpec)
        .filter((s) => !only || s.name === only)
        .map((s) => {
          const props = Object.keys(
            ((s.inputSchema as { json: { properties?: object } }).json.properties ?? {}) as object,
          );
          return {
            toolUse: {
              toolUseId: `tooluse_${randomBytes(8).toString('hex')}`,
              name: s.name,
              input: props.length ? { [props[0]!]: 'Paris' } : {},
            },
          };
        }),
      stopReason: 'tool_use',
    };
  }
  const text = last.content
    .map((b) => b.text)
    .filter((t): t is string => typeof t === 'string')
    .join(' ');
  const images = last.content.filter((b) => b.image).length;
  return {
    blocks: [
      {
        text: `Hello from Bedrock: ${text}${images > 0 ? ` [${images} image${images > 1 ? 's' : ''}]` : ''}`,
      },
    ],
    stopReason: 'end_turn',
  };
}

const USAGE = {
  inputTokens: BEDROCK_USAGE.input,
  outputTokens: BEDROCK_USAGE.output,
  totalTokens:
    BEDROCK_USAGE.input + BEDROCK_USAGE.output + BEDROCK_USAGE.cacheRead + BEDROCK_USAGE.cacheWrite,
  cacheReadInputTokens: BEDROCK_USAGE.cacheRead,
  cacheWriteInputTokens: BEDROCK_USAGE.cacheWrite,
};

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function frame(
  messageType: 'event' | 'exception',
  type: string,
  payload: Record<string, unknown>,
): Uint8Array {
  const typeHeader = messageType === 'event' ? ':event-type' : ':exception-type';
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: messageType },
      [typeHeader]: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    // Real events carry a `p` field of padding (so sizes do not tell the content).
    body: fromUtf8(JSON.stringify(messageType === 'event' ? { ...payload, p: 'abcdefgh' } : payload)),
  });
}

export async function startFakeBedrock(): Promise<FakeBedrock> {
  const calls: BedrockCall[] = [];
  const server = await startFakeServer(
    (s) => s === 'model' || s === 'foundation-models',
    async (call, res) => handle(call, res),
  );

  async function handle(call: IncomingCall, res: http.ServerResponse): Promise<void> {
    const pathname = call.path.split('?')[0]!;
    const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(pathname);
    const operation = m ? m[2]! : pathname === '/foundation-models' ? 'foundation-models' : 'unknown';
    let body: Record<string, unknown> = {};
    const entry: BedrockCall = {
      label: call.label,
      mode: call.mode,
      method: call.method,
      operation,
      modelId: m ? decodeURIComponent(m[1]!) : '',
      auth: 'none',
      region: undefined,
      path: call.path,
      headers: call.headers,
      body,
    };
    calls.push(entry);
    try {
      const auth = await authorise(call);
      entry.auth = auth.auth;
      entry.region = auth.region;
      if (operation === 'unknown')
        throw new Refusal(404, 'UnknownOperationException', `No operation at ${pathname}`);
      switch (call.mode) {
        case '429':
          throw new Refusal(
            429,
            'ThrottlingException',
            'Too many requests, please wait before trying again.',
          );
        case '500':
          throw new Refusal(500, 'InternalServerException', 'The server encountered an internal error.');
        case '503':
          throw new Refusal(
            503,
            'ServiceUnavailableException',
            'The service is unavailable. Try again later.',
          );
        case 'denied':
          throw new Refusal(
            403,
            'AccessDeniedException',
            "You don't have access to the model with the specified model ID.",
          );
        case '401':
          // AWS never answers 401 to SigV4: unknown or revoked credentials are this 403.
          throw new Refusal(
            403,
            'UnrecognizedClientException',
            'The security token included in the request is invalid.',
          );
        case '403':
          throw new Refusal(
            403,
            'AccessDeniedException',
            "You don't have access to the model with the specified model ID.",
          );
        case 'invalid':
          throw new Refusal(400, 'ValidationException', 'The provided request is not valid');
        case 'stall':
          res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
          return;
      }
      if (operation === 'foundation-models') {
        if (call.method !== 'GET') throw new Refusal(405, 'ValidationException', 'GET only');
        return sendJson(res, 200, {
          modelSummaries: BEDROCK_MODELS.map((modelId) => ({
            modelId,
            modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${modelId}`,
            modelName: modelId,
            providerName: modelId.split('.')[0],
            inputModalities: ['TEXT'],
            outputModalities: ['TEXT'],
            responseStreamingSupported: true,
          })),
        });
      }
      if (call.method !== 'POST') throw new Refusal(405, 'ValidationException', 'POST only');
      if (call.headers['content-type']?.split(';')[0] !== 'application/json')
        validation('Content-Type must be application/json');
      try {
        body = JSON.parse(call.raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        validation('The request body is not valid JSON');
      }
      entry.body = body;
      checkConverse(body);
    } catch (err) {
      if (err instanceof Refusal) return awsError(res, err.status, err.exception, err.message);
      throw err;
    }
    const r = reply(body);
    if (operation === 'converse') {
      return sendJson(
        res,
        200,
        {
          output: { message: { role: 'assistant', content: r.blocks } },
          stopReason: r.stopReason,
          usage: USAGE,
          metrics: { latencyMs: 12 },
        },
        { 'x-amzn-requestid': randomBytes(16).toString('hex') },
      );
    }
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': randomBytes(16).toString('hex'),
    });
    const frames: Uint8Array[] = [frame('event', 'messageStart', { role: 'assistant' })];
    /** The service ends the stream after an exception frame. */
    let exceptionAt = -1;
    r.blocks.forEach((b, contentBlockIndex) => {
      if (typeof b.text === 'string') {
        const words = b.text.split(/(?<= )/);
        for (const w of words)
          frames.push(frame('event', 'contentBlockDelta', { contentBlockIndex, delta: { text: w } }));
        if (call.mode === 'midthrottle' && exceptionAt < 0) {
          exceptionAt = frames.length;
          frames.push(
            frame('exception', 'throttlingException', {
              message: 'Too many tokens, please wait before trying again.',
            }),
          );
        }
      } else {
        const use = b.toolUse as { toolUseId: string; name: string; input: unknown };
        frames.push(
          frame('event', 'contentBlockStart', {
            contentBlockIndex,
            start: { toolUse: { toolUseId: use.toolUseId, name: use.name } },
          }),
        );
        const json = JSON.stringify(use.input);
        const half = Math.ceil(json.length / 2);
        for (const piece of [json.slice(0, half), json.slice(half)])
          frames.push(
            frame('event', 'contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: piece } } }),
          );
      }
      frames.push(frame('event', 'contentBlockStop', { contentBlockIndex }));
    });
    frames.push(frame('event', 'messageStop', { stopReason: r.stopReason }));
    frames.push(frame('event', 'metadata', { usage: USAGE, metrics: { latencyMs: 12 } }));
    for (const [i, f] of (exceptionAt >= 0 ? frames.slice(0, exceptionAt + 1) : frames).entries()) {
      // Frames are split across writes, as TCP may deliver them.
      const cut = Math.floor(f.length / 3);
      res.write(f.subarray(0, cut));
      await sleep(1);
      res.write(f.subarray(cut));
      // `cut`: broken off after the first frame with content (messageStart, the first, has none).
      if (call.mode === 'cut' && i === 1) {
        await sleep(20);
        res.destroy();
        return;
      }
    }
    res.end();
  }

  return { ...server, calls };
}
