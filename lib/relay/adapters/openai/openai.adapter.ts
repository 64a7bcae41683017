import { z } from 'zod';
import type { RoutedChannel } from '../../../cfg/routing-index.js';
import type {
  AdapterRequest,
  DecodedAnswer,
  Endpoint,
  PreparedRequest,
  ProviderAdapter,
  StreamDecoder,
  StreamOptions,
  UpstreamErrorInfo,
} from '../provider-adapter.js';
import { readModelList } from './openai-models.js';
import { openAiUsage, readOpenAiError, type OpenAiUsage } from './openai-wire.js';
import { SseUsageFilter } from './sse-usage-filter.js';

const PATHS: Record<Endpoint, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
  responses: '/v1/responses',
  messages: '/v1/messages',
};

export const openAiSettings = z.strictObject({
  /** The upstream serves OpenAI's Responses API: `/v1/responses` passes through instead of being bridged through chat. */
  responses_api: z.boolean().default(false),
});
export type OpenAiSettings = z.output<typeof openAiSettings>;

const CHAT_ONLY: ReadonlySet<Endpoint> = new Set(['chat', 'completions', 'embeddings']);
const WITH_RESPONSES: ReadonlySet<Endpoint> = new Set(['chat', 'completions', 'embeddings', 'responses']);

/**
 * Any OpenAI-compatible upstream. A copy-free pass-through: the body goes as it is (only
 * `stream_options.include_usage` is added to streams, so usage can be billed), the answer's bytes
 * come back untouched, and of a stream only the events that carry `usage` are parsed.
 */
export class OpenAiAdapter implements ProviderAdapter<OpenAiSettings> {
  readonly type: string = 'openai';
  readonly settings: z.ZodType<OpenAiSettings> = openAiSettings;

  endpoints(settings: OpenAiSettings): ReadonlySet<Endpoint> {
    return settings.responses_api ? WITH_RESPONSES : CHAT_ONLY;
  }

  /** The URL path of an endpoint, after the channel's base path. */
  protected path(req: AdapterRequest<OpenAiSettings>): string {
    return req.channel.basePath + PATHS[req.endpoint];
  }

  protected authHeaders(channel: RoutedChannel): Record<string, string> {
    return { authorization: `Bearer ${channel.apiKey}` };
  }

  async prepare(req: AdapterRequest<OpenAiSettings>): Promise<PreparedRequest> {
    let body = req.body;
    if (req.stream && (req.endpoint === 'chat' || req.endpoint === 'completions')) {
      body = {
        ...body,
        stream_options: { ...(body.stream_options as object | undefined), include_usage: true },
      };
    }
    return {
      origin: req.channel.origin,
      path: this.path(req),
      headers: {
        ...this.authHeaders(req.channel),
        'content-type': 'application/json',
        accept: req.stream ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
    };
  }

  decode(req: AdapterRequest<OpenAiSettings>, raw: Buffer): DecodedAnswer {
    // Parsed only to read `usage`; the client gets the upstream's bytes.
    const json = JSON.parse(raw.toString('utf8')) as { usage?: OpenAiUsage } & Record<string, unknown>;
    return {
      body: raw,
      contentType: 'application/json',
      usage: openAiUsage(json.usage, req.endpoint),
      json,
    };
  }

  streamDecoder(req: AdapterRequest<OpenAiSettings>, opts: StreamOptions): StreamDecoder {
    return new SseUsageFilter(!opts.clientWantsUsage, opts.keepText, req.endpoint);
  }

  readError(_status: number, text: string): UpstreamErrorInfo {
    return readOpenAiError(text);
  }

  async listModels(channel: RoutedChannel, _settings?: OpenAiSettings): Promise<PreparedRequest> {
    return {
      method: 'GET',
      origin: channel.origin,
      path: `${channel.basePath}/v1/models`,
      headers: { ...this.authHeaders(channel), accept: 'application/json' },
      body: '',
    };
  }

  readModels(raw: Buffer): string[] {
    return readModelList(raw);
  }
}
