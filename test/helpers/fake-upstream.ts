import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { answerResponses } from './fake-responses.js';

/**
 * A fake OpenAI-compatible upstream. One server plays many channels: the channel's `base_url`
 * carries a label and a mode, `http://127.0.0.1:PORT/<label>/<mode>`, and the request then goes to
 * `/<label>/<mode>/v1/chat/completions`. Modes:
 *   ok      answers (a stream when the request asks for one)
 *   500     500 with an OpenAI error body          429   429 with Retry-After
 *   401     401 invalid key                        400   400 invalid request (not retried)
 *   slow    answers after `SLOW_MS`                hang  never answers (the socket stays open)
 *   reset   stream: one chunk, then the socket is destroyed; non-stream: destroyed at once
 *   halfreset stream: one chunk and half of the next, then the socket is destroyed
 *   headreset 200 and headers, then the socket is destroyed before any body
 *   stall   200 and headers, then no body ever (the socket stays open)
 *   gate    stream: one chunk, then waits for `release()` before the rest (proves pass-through)
 *   auth    401 invalid key while the label is refused (`refuse(label)`), else answers
 *   nocredit 429 insufficient_quota (an account out of credit)
 *   nousage stream without a usage chunk even when asked
 *   usagereset stream: every chunk and the usage chunk when asked, then the socket is destroyed before `[DONE]`
 *   badjson answers 200 with a body that is not JSON
 *   403     403 permission denied                  cached answers with 4 of the prompt tokens cached
 * `GET …/v1/models` lists `<label>-model-a` and `<label>-model-b` (after the mode's error, if any).
 * A chat request with function tools is answered with a call to the first tool until the last
 * message is the tool's result; the answer then quotes it. Like OpenAI, chat refuses `metadata`
 * without `store: true`, and tool messages out of order. `POST …/v1/responses` is OpenAI's
 * Responses API (see fake-responses.ts).
 */
export interface FakeRequest {
  label: string;
  mode: string;
  path: string;
  method: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeUpstream {
  url: string;
  port: number;
  requests: FakeRequest[];
  /** Requests whose client went away before the answer ended. */
  aborted: FakeRequest[];
  /** Lets every `gate` stream waiting now finish. */
  release(): void;
  /** `auth` mode: answers 401 for this label from now on (or, `accept`, answers again). */
  refuse(label: string): void;
  accept(label: string): void;
  baseUrl(label: string, mode?: string): string;
  close(): Promise<void>;
}

export const SLOW_MS = 300;
const USAGE = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
const EMBEDDING = [0.1, 0.2, 0.3];
const CACHED_USAGE = { ...USAGE, prompt_tokens_details: { cached_tokens: 4 } };
const usageFor = (mode: string) => (mode === 'cached' ? CACHED_USAGE : USAGE);

export async function startFakeUpstream(port = 0, opts: { record?: boolean } = {}): Promise<FakeUpstream> {
  const record = opts.record !== false;
  const requests: FakeRequest[] = [];
  const aborted: FakeRequest[] = [];
  let gates: (() => void)[] = [];
  const refused = new Set<string>();
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const parts = (req.url ?? '/').split('/').filter(Boolean);
      const v1 = parts.indexOf('v1');
      const [label = 'default', mode = 'ok'] = v1 >= 0 ? parts.slice(0, v1) : [];
      const path = '/' + parts.slice(v1).join('/');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      const entry: FakeRequest = {
        label,
        mode,
        path,
        method: req.method ?? 'GET',
        authorization: req.headers.authorization,
        body,
      };
      if (record) requests.push(entry);
      res.on('close', () => {
        if (!res.writableFinished) aborted.push(entry);
      });
      void answer(entry, req, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function answer(r: FakeRequest, req: http.IncomingMessage, res: http.ServerResponse) {
    const stream = r.body.stream === true;
    const model = String(r.body.model ?? '');
    switch (r.mode) {
      case '500':
        return sendJson(res, 500, {
          error: { message: 'upstream exploded', type: 'server_error', code: null },
        });
      case '429':
        res.setHeader('retry-after', '1');
        return sendJson(res, 429, {
          error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
        });
      case 'auth':
        if (!refused.has(r.label)) break;
        return refuseKey(res);
      case '401':
        return refuseKey(res);
      case '403':
        return sendJson(res, 403, {
          error: {
            message: 'You are not allowed to use this model',
            type: 'invalid_request_error',
            code: null,
          },
        });
      case '400':
        return sendJson(res, 400, {
          error: {
            message: 'Invalid value for temperature',
            type: 'invalid_request_error',
            code: null,
            param: 'temperature',
          },
        });
      case 'nocredit':
        return sendJson(res, 429, {
          error: {
            message: 'You exceeded your current quota, please check your plan and billing details.',
            type: 'insufficient_quota',
            code: 'insufficient_quota',
          },
        });
      case 'hang':
        return; // never answers
      case 'headreset':
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
        res.flushHeaders();
        await sleep(20);
        return req.socket.destroy();
      case 'stall':
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
        res.flushHeaders();
        return;
      case 'badjson':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"not json');
      case 'slow':
        await sleep(SLOW_MS);
        break;
      case 'reset':
        if (!stream) return req.socket.destroy();
        break;
    }
    if (r.method === 'GET' && r.path.endsWith('/models')) {
      return sendJson(res, 200, {
        object: 'list',
        data: ['model-a', 'model-b'].map((m) => ({
          id: `${r.label}-${m}`,
          object: 'model',
          owned_by: 'fake',
        })),
      });
    }
    if (r.method === 'POST' && r.path === '/v1/responses') {
      return answerResponses(res, r.label, r.body, (status, body) => sendJson(res, status, body));
    }
    if (r.path.endsWith('/embeddings')) {
      const inputs = Array.isArray(r.body.input) ? r.body.input : [r.body.input];
      return sendJson(res, 200, {
        object: 'list',
        // As OpenAI does: floats, or with `encoding_format: "base64"` (what the official clients
        // ask for by default) the little-endian float32 bytes in base64.
        data: inputs.map((_, index) => ({
          object: 'embedding',
          index,
          embedding:
            r.body.encoding_format === 'base64'
              ? Buffer.from(new Float32Array(EMBEDDING).buffer).toString('base64')
              : EMBEDDING,
        })),
        model,
        usage: { prompt_tokens: 8, total_tokens: 8 },
      });
    }
    const isChat = r.path.endsWith('/chat/completions');
    const messages = Array.isArray(r.body.messages) ? (r.body.messages as Record<string, unknown>[]) : [];
    const last = messages.at(-1);
    const tool = Array.isArray(r.body.tools)
      ? (r.body.tools as { type?: string; function?: { name?: string } }[]).find((t) => t.type === 'function')
      : undefined;
    const toolProblem = isChat
      ? r.body.metadata !== undefined && r.body.store !== true
        ? "The 'metadata' parameter is only allowed when 'store' is enabled."
        : toolMessageProblem(messages)
      : null;
    if (toolProblem) {
      return sendJson(res, 400, {
        error: { message: toolProblem, type: 'invalid_request_error', param: 'messages', code: null },
      });
    }
    const wantsUsage =
      (r.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    if (isChat && tool && last?.role !== 'tool') {
      return answerToolCall(res, model, String(tool.function?.name), stream, wantsUsage);
    }
    const text =
      `Hello from ${r.label} as ${model}` +
      (last?.role === 'tool' ? `; the tool said ${String(last.content)}` : '');
    if (!stream) {
      return sendJson(res, 200, {
        id: 'chatcmpl-fake',
        object: isChat ? 'chat.completion' : 'text_completion',
        created: 1_700_000_000,
        model,
        choices: isChat
          ? [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }]
          : [{ index: 0, text, finish_reason: 'stop' }],
        usage: usageFor(r.mode),
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const words = text.split(' ');
    const chunk = (delta: string, finish: string | null) =>
      JSON.stringify({
        id: 'chatcmpl-fake',
        object: isChat ? 'chat.completion.chunk' : 'text_completion',
        created: 1_700_000_000,
        model,
        choices: isChat
          ? [{ index: 0, delta: { content: delta }, finish_reason: finish }]
          : [{ index: 0, text: delta, finish_reason: finish }],
      });
    for (let i = 0; i < words.length; i++) {
      res.write(`data: ${chunk((i ? ' ' : '') + words[i], null)}\n\n`);
      if (i === 0 && r.mode === 'reset') {
        await sleep(20);
        return req.socket.destroy();
      }
      if (i === 0 && r.mode === 'halfreset') {
        res.write(`data: ${chunk(' half', null).slice(0, 30)}`);
        await sleep(20);
        return req.socket.destroy();
      }
      if (i === 0 && r.mode === 'gate') await new Promise<void>((resolve) => gates.push(resolve));
      if (res.destroyed) return;
    }
    res.write(`data: ${chunk('', 'stop')}\n\n`);
    if (wantsUsage && r.mode !== 'nousage') {
      res.write(
        `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage: usageFor(r.mode) })}\n\n`,
      );
    }
    if (r.mode === 'usagereset') {
      await sleep(20);
      return req.socket.destroy();
    }
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${actual}`;
  return {
    url,
    port: actual,
    requests,
    aborted,
    release() {
      for (const g of gates) g();
      gates = [];
    },
    refuse: (label) => refused.add(label),
    accept: (label) => refused.delete(label),
    baseUrl: (label, mode = 'ok') => `${url}/${label}/${mode}`,
    async close() {
      for (const g of gates) g();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A chat answer that calls `name` with `{"city":"Paris"}` (streamed in two argument pieces). */
function answerToolCall(
  res: http.ServerResponse,
  model: string,
  name: string,
  stream: boolean,
  withUsage: boolean,
) {
  const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model };
  const call = { id: 'call_fake_1', type: 'function', function: { name, arguments: '{"city":"Paris"}' } };
  if (!stream) {
    return sendJson(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: [call] },
          finish_reason: 'tool_calls',
        },
      ],
      usage: USAGE,
    });
  }
  const chunk = (delta: unknown, finish: string | null) =>
    `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(
    chunk(
      { role: 'assistant', tool_calls: [{ index: 0, ...call, function: { name, arguments: '' } }] },
      null,
    ),
  );
  res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, null));
  res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, null));
  res.write(chunk({}, 'tool_calls'));
  if (withUsage) {
    res.write(
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage: USAGE })}\n\n`,
    );
  }
  res.end('data: [DONE]\n\n');
}

/**
 * OpenAI's rule for tool messages: an assistant message with `tool_calls` is followed by one
 * `tool` message per call id, and a `tool` message answers a call made just before it.
 */
function toolMessageProblem(messages: Record<string, unknown>[]): string | null {
  let open = new Set<string>();
  for (const m of messages) {
    if (m.role === 'tool') {
      if (!open.delete(String(m.tool_call_id))) {
        return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
      }
      continue;
    }
    if (open.size > 0) {
      return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.";
    }
    const calls =
      m.role === 'assistant' && Array.isArray(m.tool_calls) ? (m.tool_calls as { id?: unknown }[]) : [];
    open = new Set(calls.map((c) => String(c.id)));
  }
  return null;
}

function refuseKey(res: http.ServerResponse) {
  sendJson(res, 401, {
    error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' },
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Run on its own (the benchmark): `tsx test/helpers/fake-upstream.ts <port>`.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const server = await startFakeUpstream(Number(process.argv[2] ?? 0), { record: false });
  process.stdout.write(`${server.port}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}
