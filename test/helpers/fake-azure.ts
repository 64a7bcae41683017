import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerResponses } from './fake-responses.js';

/**
 * A fake Azure OpenAI resource, strict about what Azure documents: the key in `api-key` (never
 * `Authorization`), the deployments API (`/openai/deployments/{deployment}/{operation}` with a
 * required `api-version` query) or the v1 API (`/openai/v1/{operation}`, no `api-version`),
 * Azure's error shapes (`{"error":{"code","message"}}`, 404 for an unknown path, content-filter
 * 400s with `innererror`), and OpenAI's answer and stream shapes (`stream_options` honoured).
 * Like the OpenAI fake, one server plays many channels: the channel's `base_url` carries a
 * label and a mode, `http://127.0.0.1:PORT/<label>/<mode>`. Modes: ok, cached (usage with cached
 * tokens), 401, 403, 429 (Retry-After: 1), 500, cut (a stream's first event, then the socket is
 * destroyed), stall (200 and headers, then nothing), filter (a content-filter 400). The
 * Responses API (`/openai/v1/responses`, v1 API only) answers as the OpenAI fake's does.
 */
export interface FakeAzureRequest {
  label: string;
  mode: string;
  /** `deployments` or `v1`. */
  api: string;
  deployment: string | null;
  operation: string;
  apiVersion: string | null;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface FakeAzure {
  url: string;
  requests: FakeAzureRequest[];
  baseUrl(label: string, mode?: string): string;
  close(): Promise<void>;
}

export const AZURE_KEY = 'azure-key-0123456789abcdef';
const OPERATIONS = new Set(['chat/completions', 'completions', 'embeddings', 'models', 'responses']);

export async function startFakeAzure(): Promise<FakeAzure> {
  const requests: FakeAzureRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const m = /^\/([^/]+)\/([^/]+)\/openai\/(?:deployments\/([^/]+)\/|(v1)\/)?(.+)$/.exec(url.pathname);
      if (!m) return azureError(res, 404, '404', 'Resource not found');
      const [, label = '', mode = 'ok', deployment, v1, operation = ''] = m;
      const api = v1 ? 'v1' : deployment ? 'deployments' : 'other';
      const apiVersion = url.searchParams.get('api-version');
      if (api === 'other' && operation !== 'models') return azureError(res, 404, '404', 'Resource not found');
      // The Responses API is served on the v1 API only.
      if (operation === 'responses' && api !== 'v1') return azureError(res, 404, '404', 'Resource not found');
      if (!OPERATIONS.has(operation)) return azureError(res, 404, '404', 'Resource not found');
      if (api !== 'v1' && !apiVersion) return azureError(res, 404, '404', 'Resource not found');
      if (api === 'v1' && apiVersion && apiVersion !== 'preview' && apiVersion !== 'latest')
        return azureError(res, 400, 'BadRequest', 'API version not supported');
      if (req.headers.authorization)
        return azureError(res, 401, '401', 'Send the key in api-key, not Authorization');
      if (req.headers['api-key'] !== AZURE_KEY)
        return azureError(
          res,
          401,
          '401',
          'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        );
      let body: Record<string, unknown> = {};
      if (req.method === 'POST') {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
          return azureError(res, 415, 'UnsupportedMediaType', 'Content-Type must be application/json');
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          return azureError(res, 400, 'BadRequest', 'The request body is not valid JSON');
        }
      }
      const entry: FakeAzureRequest = {
        label,
        mode,
        api,
        deployment: deployment ? decodeURIComponent(deployment) : null,
        operation,
        apiVersion,
        headers: req.headers,
        body,
      };
      requests.push(entry);
      void answer(entry, req, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function answer(r: FakeAzureRequest, req: http.IncomingMessage, res: http.ServerResponse) {
    switch (r.mode) {
      case '401':
        return azureError(res, 401, '401', 'Access denied due to invalid subscription key.');
      case '403':
        return azureError(res, 403, 'PermissionDenied', 'The principal lacks the required data action.');
      case '429':
        res.setHeader('retry-after', '1');
        return azureError(
          res,
          429,
          '429',
          'Requests to the ChatCompletions_Create Operation have exceeded the call rate limit.',
        );
      case '500':
        return azureError(
          res,
          500,
          'InternalServerError',
          'The server had an error processing your request.',
        );
      case 'stall':
        res.writeHead(200, { 'content-type': r.body.stream ? 'text/event-stream' : 'application/json' });
        res.flushHeaders();
        return;
      case 'filter':
        return send(res, 400, {
          error: {
            message:
              "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
            type: null,
            param: 'prompt',
            code: 'content_filter',
            status: 400,
            innererror: {
              code: 'ResponsibleAIPolicyViolation',
              content_filter_result: { hate: { filtered: true, severity: 'high' } },
            },
          },
        });
    }
    if (r.operation === 'models') {
      return send(res, 200, {
        object: 'list',
        data: [
          { id: 'gpt-4o', object: 'model' },
          { id: 'text-embedding-3-small', object: 'model' },
        ],
      });
    }
    // The v1 API names the deployment in the body; the deployments API in the path.
    const model = r.api === 'v1' ? r.body.model : r.deployment;
    if (typeof model !== 'string' || model === '')
      return azureError(res, 400, 'BadRequest', "Missing required parameter: 'model'.");
    if (r.operation === 'responses') return answerResponses(res, r.label, r.body, (s, b) => send(res, s, b));
    const usage = {
      prompt_tokens: 12,
      completion_tokens: 6,
      total_tokens: 18,
      prompt_tokens_details: { cached_tokens: r.mode === 'cached' ? 8 : 0 },
    };
    if (r.operation === 'embeddings') {
      const inputs = Array.isArray(r.body.input) ? r.body.input : [r.body.input];
      return send(res, 200, {
        object: 'list',
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.5, 0.25] })),
        model,
        usage: { prompt_tokens: 6, total_tokens: 6 },
      });
    }
    if (r.operation === 'completions') {
      return send(res, 200, {
        id: 'cmpl-azure',
        object: 'text_completion',
        created: 1_700_000_000,
        model,
        choices: [{ index: 0, text: `Azure ${r.label} completes`, finish_reason: 'stop', logprobs: null }],
        usage,
      });
    }
    if (!Array.isArray(r.body.messages) || r.body.messages.length === 0)
      return azureError(res, 400, 'BadRequest', "'messages' is a required property");
    const text = `Hello from Azure ${r.label}`;
    const base = { id: 'chatcmpl-azure', created: 1_700_000_000, model, system_fingerprint: 'fp_azure' };
    if (r.body.stream !== true) {
      return send(res, 200, {
        ...base,
        object: 'chat.completion',
        choices: [
          { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null },
        ],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const event = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
    // Azure opens with a chunk of prompt filter results and no choices.
    res.write(
      `data: ${JSON.stringify({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] })}\n\n`,
    );
    const words = text.split(' ');
    for (let i = 0; i < words.length; i++) {
      res.write(
        event([
          {
            index: 0,
            delta: i === 0 ? { role: 'assistant', content: words[i] } : { content: ` ${words[i]}` },
            finish_reason: null,
          },
        ]),
      );
      if (i === 0 && r.mode === 'cut') {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return req.socket.destroy();
      }
    }
    res.write(event([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    if ((r.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true)
      res.write(event([], { usage }));
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    baseUrl: (label, mode = 'ok') => `${url}/${label}/${mode}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function azureError(res: http.ServerResponse, status: number, code: string, message: string) {
  send(res, status, { error: { code, message } });
}

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'apim-request-id': 'fake-apim-id',
  });
  res.end(text);
}
