import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake Anthropic Messages API, strict about the wire format as Anthropic documents it, so a
 * translation that would fail against the real API fails here too (test/e2e/fake-anthropic.test.ts
 * checks it with the official `@anthropic-ai/sdk`). One server plays many channels: a channel's
 * `base_url` is `http://127.0.0.1:PORT/<label>/<mode>` and requests go to
 * `…/<label>/<mode>/v1/messages`. What it refuses, with a 400 `invalid_request_error` (or 401):
 *   - no key (`x-api-key`, or `Authorization: Bearer` as the current SDK sends it), no or an
 *     unknown `anthropic-version` (2023-01-01, 2023-06-01, 2026-10-21);
 *   - a body without `model`, an integer `max_tokens` ≥ 1, or a non-empty `messages`;
 *   - a top-level field the Messages API does not have (`n`, `stream_options`, `user`, `stop`,
 *     `response_format`, `reasoning_effort`…), a `system` role inside `messages`;
 *   - roles that do not alternate starting with `user`; an empty text block; a block type in the
 *     wrong role; an image source other than base64 (with a listed media type) or url;
 *   - a `tool_result` that is not at the start of its user turn, or answers no `tool_use` of the
 *     assistant turn before it; a `tool_use` not answered in the next user turn;
 *   - tools not shaped `{name, description?, input_schema: {type: "object"}}`, a `tool_choice`
 *     other than auto/any/none/tool(name), thinking with a budget under 1024 or not below
 *     `max_tokens`, temperature outside 0–1, metadata with fields other than `user_id`.
 * Answers: text `Hello from <label> as <model>`; with tools offered (and the last turn not a tool
 * result, or a tool forced) a `tool_use` of the forced (or first) tool whose input fills the
 * schema's properties; after a tool result, `Tool said: <result>`; a `thinking` block first when
 * thinking is on. `stop_sequences` and `max_tokens` cut the text (stop_reason `stop_sequence`,
 * `max_tokens`). Usage: input 10, output 5; mode `cache` adds 20 cache-creation and 30 cache-read
 * tokens. Streams follow the documented event sequence (message_start, ping, content blocks,
 * message_delta with output tokens, message_stop). Every answer carries a `request-id` header.
 * Modes: ok, cache, slow, 400, 401, 403, 429 (Retry-After: 1), 500, 529, nocredit (400 "credit
 * balance is too low"), auth (401 while `refuse(label)`), streamerror (an `error` event after the
 * first text delta), cut (the socket destroyed after the first text delta), reset (stream: cut
 * after message_start; whole: socket destroyed), stall
 * (headers, then nothing), hang (nothing at all). `GET …/v1/models` lists
 * `claude-<label>-a` and `claude-<label>-b`; `POST …/v1/messages/count_tokens` answers
 * `{input_tokens}` (4 + 1 per 4 characters of text).
 */
export interface FakeAnthropicRequest {
  label: string;
  mode: string;
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, any>;
}

export interface FakeAnthropic {
  url: string;
  requests: FakeAnthropicRequest[];
  /** Requests whose client went away before the answer ended. */
  aborted: FakeAnthropicRequest[];
  /** Requests refused as malformed (status 400/401 from validation), with the reason. */
  rejected: { request: FakeAnthropicRequest; reason: string }[];
  baseUrl(label: string, mode?: string): string;
  refuse(label: string): void;
  accept(label: string): void;
  close(): Promise<void>;
}

export const FAKE_USAGE = { input_tokens: 10, output_tokens: 5 };
export const FAKE_CACHE_USAGE = { cache_creation_input_tokens: 20, cache_read_input_tokens: 30 };
export const FAKE_SLOW_MS = 300;

/** The API versions it takes: the long-standing one, its predecessor, and the current SDK's. */
const VERSIONS = new Set(['2023-01-01', '2023-06-01', '2026-10-21']);
const TOP_LEVEL = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'metadata',
  'stop_sequences',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'tools',
  'tool_choice',
  'thinking',
  'service_tier',
  'container',
  'mcp_servers',
  'context_management',
]);
const MEDIA = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

type Json = Record<string, any>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Invalid extends Error {}
function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Invalid(message);
}

function checkBlock(b: unknown, role: string, at: string): void {
  check(isObj(b) && typeof b.type === 'string', `${at}: a content block needs a type`);
  const blk = b as Json;
  switch (blk.type) {
    case 'text':
      check(
        typeof blk.text === 'string' && blk.text.length > 0,
        `${at}: text content blocks must be non-empty`,
      );
      return;
    case 'image': {
      check(role === 'user', `${at}: image blocks belong to user turns`);
      const s = blk.source;
      check(isObj(s), `${at}.source: Field required`);
      if (s.type === 'base64')
        check(
          MEDIA.has(s.media_type) && typeof s.data === 'string' && s.data.length > 0,
          `${at}.source: bad base64 image`,
        );
      else check(s.type === 'url' && /^https?:\/\//.test(s.url), `${at}.source: must be base64 or url`);
      return;
    }
    case 'document':
      check(
        role === 'user' && isObj(blk.source),
        `${at}: document blocks belong to user turns and need a source`,
      );
      return;
    case 'tool_use':
      check(role === 'assistant', `${at}: tool_use blocks belong to assistant turns`);
      check(
        typeof blk.id === 'string' && typeof blk.name === 'string' && isObj(blk.input),
        `${at}: tool_use needs id, name and an object input`,
      );
      return;
    case 'tool_result':
      check(role === 'user', `${at}: tool_result blocks belong to user turns`);
      check(typeof blk.tool_use_id === 'string', `${at}.tool_use_id: Field required`);
      if (blk.content !== undefined && typeof blk.content !== 'string') {
        check(Array.isArray(blk.content), `${at}.content: must be a string or a list of blocks`);
        blk.content.forEach((c: unknown, i: number) => checkBlock(c, 'user', `${at}.content.${i}`));
      }
      return;
    case 'thinking':
    case 'redacted_thinking':
      check(role === 'assistant', `${at}: thinking blocks belong to assistant turns`);
      return;
    default:
      throw new Invalid(`${at}: unknown content block type ${blk.type}`);
  }
}

function blocksOf(content: unknown): Json[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : (content as Json[]);
}

/** Throws {@link Invalid} with the API's kind of message for a request the real API refuses. */
export function checkMessagesRequest(b: Json, countOnly = false): void {
  for (const k of Object.keys(b)) check(TOP_LEVEL.has(k), `${k}: Extra inputs are not permitted`);
  check(typeof b.model === 'string' && b.model.length > 0, 'model: Field required');
  if (!countOnly)
    check(Number.isInteger(b.max_tokens) && b.max_tokens >= 1, 'max_tokens: Field required (an integer ≥ 1)');
  else check(b.max_tokens === undefined, 'max_tokens: Extra inputs are not permitted');
  check(Array.isArray(b.messages) && b.messages.length > 0, 'messages: at least one message is required');
  if (b.system !== undefined) {
    if (typeof b.system !== 'string') {
      check(Array.isArray(b.system), 'system: must be a string or a list of text blocks');
      b.system.forEach((s: Json, i: number) =>
        check(isObj(s) && s.type === 'text' && s.text, `system.${i}: text blocks only`),
      );
    }
  }
  let pendingToolUses: string[] = [];
  b.messages.forEach((m: unknown, i: number) => {
    const at = `messages.${i}`;
    check(isObj(m), `${at}: must be an object`);
    const msg = m as Json;
    for (const k of Object.keys(msg))
      check(k === 'role' || k === 'content', `${at}.${k}: Extra inputs are not permitted`);
    check(
      msg.role === 'user' || msg.role === 'assistant',
      `${at}.role: Input should be 'user' or 'assistant'`,
    );
    check(
      msg.role === (i % 2 === 0 ? 'user' : 'assistant'),
      `${at}: roles must alternate between "user" and "assistant", starting with "user"`,
    );
    check(typeof msg.content === 'string' || Array.isArray(msg.content), `${at}.content: Field required`);
    const blocks = blocksOf(msg.content);
    if (typeof msg.content === 'string')
      check(
        msg.content.length > 0 || (msg.role === 'assistant' && i === b.messages.length - 1),
        `${at}: content must be non-empty`,
      );
    else
      check(
        blocks.length > 0 || (msg.role === 'assistant' && i === b.messages.length - 1),
        `${at}: content must be non-empty`,
      );
    blocks.forEach((blk, j) => checkBlock(blk, msg.role, `${at}.content.${j}`));
    if (msg.role === 'user') {
      const results = blocks.filter((x) => x.type === 'tool_result');
      const firstOther = blocks.findIndex((x) => x.type !== 'tool_result');
      check(
        firstOther < 0 || blocks.slice(firstOther).every((x) => x.type !== 'tool_result'),
        `${at}: tool_result blocks must come first in the user turn`,
      );
      for (const r of results)
        check(
          pendingToolUses.includes(r.tool_use_id),
          `${at}: tool_result ${r.tool_use_id} answers no tool_use of the previous turn`,
        );
      for (const id of pendingToolUses)
        check(
          results.some((r) => r.tool_use_id === id),
          `${at}: tool_use ${id} has no tool_result right after it`,
        );
      pendingToolUses = [];
    } else pendingToolUses = blocks.filter((x) => x.type === 'tool_use').map((x) => x.id);
  });
  if (b.tools !== undefined) {
    check(Array.isArray(b.tools), 'tools: must be a list');
    b.tools.forEach((t: unknown, i: number) => {
      check(isObj(t), `tools.${i}: must be an object`);
      const tool = t as Json;
      // Server tools are typed by name and version date (web_search_20250305, bash_20250124…).
      if (typeof tool.type === 'string' && tool.type !== 'custom') {
        check(/^[a-z_]+_\d{8}$/.test(tool.type), `tools.${i}.type: unknown tool type ${tool.type}`);
        return;
      }
      for (const k of Object.keys(tool))
        check(
          ['name', 'description', 'input_schema', 'cache_control', 'type'].includes(k),
          `tools.${i}.${k}: Extra inputs are not permitted`,
        );
      check(
        typeof tool.name === 'string' && /^[a-zA-Z0-9_-]{1,128}$/.test(tool.name),
        `tools.${i}.name: invalid tool name`,
      );
      check(
        isObj(tool.input_schema) && tool.input_schema.type === 'object',
        `tools.${i}.input_schema: type must be "object"`,
      );
    });
  }
  if (b.tool_choice !== undefined) {
    const tc = b.tool_choice;
    check(
      isObj(tc) && ['auto', 'any', 'none', 'tool'].includes(tc.type),
      'tool_choice: type must be auto, any, none or tool',
    );
    if (tc.type === 'tool')
      check(
        b.tools?.some((t: Json) => t.name === tc.name),
        `tool_choice.name: no tool named ${tc.name}`,
      );
    check(b.tools !== undefined, 'tool_choice: may only be specified while providing tools');
  }
  if (b.temperature !== undefined)
    check(
      typeof b.temperature === 'number' && b.temperature >= 0 && b.temperature <= 1,
      'temperature: must be between 0 and 1',
    );
  if (b.top_p !== undefined)
    check(typeof b.top_p === 'number' && b.top_p >= 0 && b.top_p <= 1, 'top_p: must be between 0 and 1');
  if (b.metadata !== undefined) {
    check(isObj(b.metadata), 'metadata: must be an object');
    for (const k of Object.keys(b.metadata))
      check(k === 'user_id', `metadata.${k}: Extra inputs are not permitted`);
  }
  if (b.stop_sequences !== undefined)
    check(
      Array.isArray(b.stop_sequences) &&
        b.stop_sequences.every((s: unknown) => typeof s === 'string' && s.trim()),
      'stop_sequences: a list of non-blank strings',
    );
  if (b.thinking !== undefined) {
    const t = b.thinking;
    check(isObj(t) && (t.type === 'enabled' || t.type === 'disabled'), 'thinking.type: enabled or disabled');
    if (t.type === 'enabled') {
      check(
        Number.isInteger(t.budget_tokens) && t.budget_tokens >= 1024,
        'thinking.budget_tokens: must be ≥ 1024',
      );
      if (!countOnly)
        check(t.budget_tokens < b.max_tokens, '`max_tokens` must be greater than `thinking.budget_tokens`');
      check(
        b.temperature === undefined || b.temperature === 1,
        'temperature may only be set to 1 when thinking is enabled',
      );
      check(
        !['any', 'tool'].includes(b.tool_choice?.type),
        'Thinking may not be enabled when tool_choice forces tool use.',
      );
    }
  }
  if (b.stream !== undefined) check(typeof b.stream === 'boolean', 'stream: must be a boolean');
}

/** An input for a tool, filled from its schema's properties (strings "Paris", numbers 1, booleans true). */
function inputFor(schema: Json | undefined): Json {
  const out: Json = {};
  for (const [k, p] of Object.entries((schema?.properties ?? {}) as Record<string, Json>))
    out[k] =
      p?.type === 'number' || p?.type === 'integer'
        ? 1
        : p?.type === 'boolean'
          ? true
          : p?.type === 'object'
            ? {}
            : 'Paris';
  return out;
}

function resultText(r: Json): string {
  if (typeof r.content === 'string') return r.content;
  return (Array.isArray(r.content) ? r.content : [])
    .map((c: Json) => (c.type === 'text' ? c.text : ''))
    .join('');
}

interface Planned {
  content: Json[];
  stop_reason: string;
  stop_sequence: string | null;
}

function plan(label: string, b: Json): Planned {
  const content: Json[] = [];
  if (b.thinking?.type === 'enabled')
    content.push({ type: 'thinking', thinking: 'Let me think.', signature: 'sig-fake' });
  const last = b.messages[b.messages.length - 1] as Json;
  const results = last.role === 'user' ? blocksOf(last.content).filter((x) => x.type === 'tool_result') : [];
  const tc = b.tool_choice as Json | undefined;
  const forced = tc?.type === 'any' || tc?.type === 'tool';
  if (
    Array.isArray(b.tools) &&
    b.tools.length > 0 &&
    tc?.type !== 'none' &&
    (results.length === 0 || forced)
  ) {
    const tool = (tc?.type === 'tool' ? b.tools.find((t: Json) => t.name === tc.name) : b.tools[0]) as Json;
    content.push({
      type: 'tool_use',
      id: `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      name: tool.name,
      input: inputFor(tool.input_schema),
    });
    return { content, stop_reason: 'tool_use', stop_sequence: null };
  }
  let text =
    results.length > 0
      ? `Tool said: ${results.map(resultText).join(', ')}`
      : `Hello from ${label} as ${b.model}`;
  let stop_reason = 'end_turn';
  let stop_sequence: string | null = null;
  for (const s of (b.stop_sequences ?? []) as string[]) {
    const at = text.indexOf(s);
    if (at >= 0) {
      text = text.slice(0, at);
      stop_reason = 'stop_sequence';
      stop_sequence = s;
    }
  }
  const words = text.split(' ');
  if (words.length > b.max_tokens) {
    text = words.slice(0, b.max_tokens).join(' ');
    stop_reason = 'max_tokens';
    stop_sequence = null;
  }
  content.push({ type: 'text', text });
  return { content, stop_reason, stop_sequence };
}

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const requests: FakeAnthropicRequest[] = [];
  const aborted: FakeAnthropicRequest[] = [];
  const rejected: FakeAnthropic['rejected'] = [];
  const refused = new Set<string>();
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parts = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
      const v1 = parts.indexOf('v1');
      const [label = 'default', mode = 'ok'] = v1 >= 0 ? parts.slice(0, v1) : [];
      let body: Json = {};
      let badJson = false;
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json) : {};
      } catch {
        badJson = true;
      }
      const entry: FakeAnthropicRequest = {
        label,
        mode,
        path: '/' + parts.slice(v1).join('/'),
        method: req.method ?? 'GET',
        headers: req.headers,
        body,
      };
      requests.push(entry);
      res.setHeader('request-id', `req_fake_${randomUUID().replace(/-/g, '').slice(0, 20)}`);
      res.on('close', () => {
        if (!res.writableFinished) aborted.push(entry);
      });
      void answer(entry, badJson, req, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function reject(
    r: FakeAnthropicRequest,
    res: http.ServerResponse,
    status: number,
    type: string,
    message: string,
  ) {
    rejected.push({ request: r, reason: message });
    sendError(res, status, type, message);
  }

  async function answer(
    r: FakeAnthropicRequest,
    badJson: boolean,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ) {
    const h = r.headers;
    // The key comes as `x-api-key`, or (the current SDK's way) as a bearer token.
    const bearer = /^Bearer \S+$/.test(String(h.authorization ?? ''));
    if ((typeof h['x-api-key'] !== 'string' || !h['x-api-key']) && !bearer)
      return reject(r, res, 401, 'authentication_error', 'x-api-key header is required');
    const version = h['anthropic-version'];
    if (typeof version !== 'string' || !VERSIONS.has(version))
      return reject(
        r,
        res,
        400,
        'invalid_request_error',
        'anthropic-version: header is required and must be a valid version',
      );
    const failure = Object.hasOwn(ANTHROPIC_FAILURES, r.mode) ? ANTHROPIC_FAILURES[r.mode] : undefined;
    if (failure) {
      if (r.mode === '429') res.setHeader('retry-after', '1');
      return sendError(res, ...failure);
    }
    switch (r.mode) {
      case 'auth':
        if (refused.has(r.label)) return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
        break;
      case 'hang':
        return;
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, FAKE_SLOW_MS));
        break;
    }
    if (r.method === 'GET' && r.path === '/v1/models') {
      const data = ['a', 'b'].map((x) => ({
        type: 'model',
        id: `claude-${r.label}-${x}`,
        display_name: `Claude ${x}`,
        created_at: '2025-01-01T00:00:00Z',
      }));
      return sendJson(res, 200, { data, has_more: false, first_id: data[0]!.id, last_id: data[1]!.id });
    }
    if (r.method !== 'POST' || (r.path !== '/v1/messages' && r.path !== '/v1/messages/count_tokens'))
      return sendError(res, 404, 'not_found_error', `Not found: ${r.method} ${r.path}`);
    if (!String(h['content-type'] ?? '').startsWith('application/json'))
      return reject(r, res, 400, 'invalid_request_error', 'content-type must be application/json');
    if (badJson) return reject(r, res, 400, 'invalid_request_error', 'The request body is not valid JSON.');
    const count = r.path.endsWith('/count_tokens');
    try {
      checkMessagesRequest(r.body, count);
    } catch (err) {
      if (err instanceof Invalid) return reject(r, res, 400, 'invalid_request_error', err.message);
      throw err;
    }
    if (count) {
      const chars = JSON.stringify(r.body.messages).length + JSON.stringify(r.body.system ?? '').length;
      return sendJson(res, 200, { input_tokens: 4 + Math.ceil(chars / 4) });
    }
    const p = plan(r.label, r.body);
    const usage = {
      ...FAKE_USAGE,
      ...(r.mode === 'cache'
        ? FAKE_CACHE_USAGE
        : { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }),
    };
    const id = `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model: r.body.model,
      content: p.content,
      stop_reason: p.stop_reason,
      stop_sequence: p.stop_sequence,
      usage,
    };
    if (r.body.stream !== true) {
      if (r.mode === 'reset') return req.socket.destroy();
      if (r.mode === 'stall') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.flushHeaders();
      }
      return sendJson(res, 200, message);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    if (r.mode === 'stall') return res.flushHeaders();
    const send = (type: string, data: Json) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    const { input_tokens, ...cache } = usage;
    send('message_start', {
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens, ...cache, output_tokens: 1 },
      },
    });
    if (r.mode === 'reset') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return req.socket.destroy();
    }
    send('ping', {});
    for (const [index, block] of p.content.entries()) {
      if (block.type === 'text') {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        const words = (block.text as string).split(/(?<= )/);
        for (const [w, word] of words.entries()) {
          send('content_block_delta', { index, delta: { type: 'text_delta', text: word } });
          if (w === 0 && r.mode === 'cut') {
            await new Promise((resolve) => setTimeout(resolve, 20));
            return req.socket.destroy();
          }
          if (w === 0 && r.mode === 'streamerror') {
            send('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
            return res.end();
          }
        }
      } else if (block.type === 'thinking') {
        send('content_block_start', {
          index,
          content_block: { type: 'thinking', thinking: '', signature: '' },
        });
        send('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: block.thinking } });
        send('content_block_delta', {
          index,
          delta: { type: 'signature_delta', signature: block.signature },
        });
      } else {
        send('content_block_start', { index, content_block: { ...block, input: {} } });
        const json = JSON.stringify(block.input);
        const half = Math.floor(json.length / 2);
        send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
        send('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: json.slice(0, half) },
        });
        send('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: json.slice(half) },
        });
      }
      send('content_block_stop', { index });
    }
    send('message_delta', {
      delta: { stop_reason: p.stop_reason, stop_sequence: p.stop_sequence },
      usage: { output_tokens: usage.output_tokens },
    });
    send('message_stop', {});
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    aborted,
    rejected,
    baseUrl: (label, mode = 'ok') => `${url}/${label}/${mode}`,
    refuse: (label) => refused.add(label),
    accept: (label) => refused.delete(label),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The modes in which the fake always fails: status, error type and message, as Anthropic words them. */
const ANTHROPIC_FAILURES: Record<string, [status: number, type: string, message: string]> = {
  '400': [400, 'invalid_request_error', 'messages: this request is refused on purpose'],
  '401': [401, 'authentication_error', 'invalid x-api-key'],
  '403': [403, 'permission_error', 'Your API key does not have permission to use the specified resource.'],
  '429': [429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'],
  '500': [500, 'api_error', 'Internal server error'],
  '529': [529, 'overloaded_error', 'Overloaded'],
  nocredit: [
    400,
    'invalid_request_error',
    'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  ],
};

function sendError(res: http.ServerResponse, status: number, type: string, message: string) {
  const requestId = res.getHeader('request-id');
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: requestId });
}
