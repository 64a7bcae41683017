import type { RoutedChannel } from '../../../cfg/routing-index.js';
import { BadRequestError } from '../../../errors/bad-request.error.js';
import type { Json } from '../chat-translation.js';
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
import { GeminiStreamDecoder, decodeGeminiAnswer, decodeGeminiEmbeddings } from './gemini-answer.js';
import { readGeminiError } from './gemini-errors.js';
import { batchEmbedBody, generateContentBody } from './gemini-request.js';
import { geminiSettingsSchema, type GeminiSettings } from './gemini-settings.js';

/** The upstream model name without Gemini's `models/` collection prefix. */
function modelOf(body: Json): string {
  const model = typeof body.model === 'string' ? body.model.replace(/^models\//, '') : '';
  if (model === '') throw new BadRequestError('`model` must be a non-empty string', { param: 'model' });
  return model;
}

/**
 * Google AI Studio's Gemini API (`type: "gemini"`). The key travels in the `x-goog-api-key`
 * header, never in the URL; chat goes to `models/{model}:generateContent` (streams to
 * `:streamGenerateContent?alt=sse`), embeddings to `:batchEmbedContents`.
 */
export class GeminiAdapter implements ProviderAdapter<GeminiSettings> {
  readonly type = 'gemini';
  readonly settings = geminiSettingsSchema;
  private readonly served: ReadonlySet<Endpoint> = new Set<Endpoint>(['chat', 'embeddings']);

  endpoints(): ReadonlySet<Endpoint> {
    return this.served;
  }

  /**
   * `base_url` + `/{api_version}`. A base URL pasted with its version already on
   * (`…googleapis.com/v1beta`) is taken as it is rather than doubled.
   */
  private base(channel: RoutedChannel, settings: GeminiSettings): string {
    if (/\/v\d+(?:(?:alpha|beta)\d*)?$/.test(channel.basePath)) return channel.basePath;
    return `${channel.basePath}/${settings.api_version}`;
  }

  private headers(channel: RoutedChannel): Record<string, string> {
    return { 'x-goog-api-key': channel.apiKey, 'content-type': 'application/json' };
  }

  prepare(req: AdapterRequest<GeminiSettings>): Promise<PreparedRequest> {
    const model = modelOf(req.body);
    const path = `${this.base(req.channel, req.settings)}/models/${encodeURIComponent(model)}`;
    if (req.endpoint === 'embeddings') {
      return Promise.resolve({
        origin: req.channel.origin,
        path: `${path}:batchEmbedContents`,
        headers: { ...this.headers(req.channel), accept: 'application/json' },
        body: JSON.stringify(batchEmbedBody(req.body, model)),
      });
    }
    if (req.endpoint !== 'chat')
      throw new BadRequestError(`A Gemini channel does not serve the ${req.endpoint} endpoint`);
    return Promise.resolve({
      origin: req.channel.origin,
      path: req.stream ? `${path}:streamGenerateContent?alt=sse` : `${path}:generateContent`,
      headers: {
        ...this.headers(req.channel),
        accept: req.stream ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(generateContentBody(req.body, req.settings)),
    });
  }

  decode(req: AdapterRequest<GeminiSettings>, raw: Buffer): DecodedAnswer {
    const model = String(req.body.model);
    if (req.endpoint === 'embeddings') {
      const json = decodeGeminiEmbeddings(raw, model, req.body.encoding_format === 'base64');
      return { body: JSON.stringify(json), contentType: 'application/json', usage: undefined, json };
    }
    const { json, usage } = decodeGeminiAnswer(raw, model);
    return { body: JSON.stringify(json), contentType: 'application/json', usage, json };
  }

  streamDecoder(_req: AdapterRequest<GeminiSettings>, opts: StreamOptions): StreamDecoder {
    return new GeminiStreamDecoder(opts);
  }

  readError(status: number, text: string): UpstreamErrorInfo {
    return readGeminiError(status, text);
  }

  listModels(channel: RoutedChannel, settings: GeminiSettings): Promise<PreparedRequest> {
    return Promise.resolve({
      method: 'GET',
      origin: channel.origin,
      path: `${this.base(channel, settings)}/models?pageSize=1000`,
      headers: { 'x-goog-api-key': channel.apiKey, accept: 'application/json' },
      body: '',
    });
  }

  readModels(raw: Buffer): string[] {
    const res = JSON.parse(raw.toString('utf8')) as { models?: { name?: unknown }[] };
    return (res.models ?? [])
      .map((m) => (typeof m.name === 'string' ? m.name.replace(/^models\//, '') : ''))
      .filter((n) => n !== '');
  }
}
