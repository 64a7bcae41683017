import { BadRequestError } from '../../../errors/bad-request.error.js';
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
import { readAnthropicError } from './anthropic-errors.js';
import { anthropicSettingsSchema, type AnthropicSettings } from './anthropic-settings.js';
import { PassThroughStream, TranslatedStream } from './anthropic-stream.js';
import { chatToMessages, responseFormatTool } from './chat-to-messages.js';
import { messageToChat, normalizeUsage } from './message-to-chat.js';

type Json = Record<string, unknown>;

const ENDPOINTS: ReadonlySet<Endpoint> = new Set<Endpoint>(['chat', 'messages']);

/** The most models one listing asks for (Anthropic's page limit). */
const MODELS_PAGE = 1000;

/** A beta flag as Anthropic names them (`interleaved-thinking-2025-05-14`); anything else is not forwarded. */
const BETA_FLAG = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/**
 * The beta flags of an upstream request: the channel's, plus (on a pass-through of Anthropic's
 * own format) those the client asked for in its `anthropic-beta` header, as Claude Code does.
 */
function betasOf(settings: AnthropicSettings, client: string | string[] | undefined): string[] {
  const asked = (Array.isArray(client) ? client.join(',') : (client ?? ''))
    .split(',')
    .map((b) => b.trim())
    .filter((b) => BETA_FLAG.test(b));
  return [...new Set([...settings.anthropic_beta, ...asked.slice(0, 32)])];
}

function headers(
  channel: RoutedChannel,
  settings: AnthropicSettings,
  accept: string,
  clientBetas?: string | string[],
): Record<string, string> {
  const h: Record<string, string> = {
    'x-api-key': channel.apiKey,
    'anthropic-version': settings.anthropic_version,
    accept,
  };
  const betas = betasOf(settings, clientBetas);
  if (betas.length > 0) h['anthropic-beta'] = betas.join(',');
  return h;
}

function unreadable(what: string): never {
  // The relay treats a body it cannot read as the upstream's fault.
  throw new SyntaxError(`The Claude upstream sent ${what}`);
}

/**
 * Claude channels (`type: "anthropic"`): `base_url` is everything before `/v1`
 * (`https://api.anthropic.com`), the key goes in `x-api-key`. OpenAI chat is translated to the
 * Messages API and back; Anthropic's own `/v1/messages` passes through untouched apart from the
 * model and the key.
 */
export class AnthropicAdapter implements ProviderAdapter<AnthropicSettings> {
  readonly type = 'anthropic';
  readonly settings = anthropicSettingsSchema;

  endpoints(): ReadonlySet<Endpoint> {
    return ENDPOINTS;
  }

  async prepare(req: AdapterRequest<AnthropicSettings>): Promise<PreparedRequest> {
    const { channel, settings } = req;
    let body: Json;
    if (req.endpoint === 'messages') body = req.body;
    else if (req.endpoint === 'chat') body = chatToMessages(req.body, settings);
    else throw new BadRequestError(`Claude channels do not serve the ${req.endpoint} endpoint`);
    if (req.stream) body = { ...body, stream: true };
    return {
      origin: channel.origin,
      path: `${channel.basePath}/v1/messages`,
      headers: {
        ...headers(
          channel,
          settings,
          req.stream ? 'text/event-stream' : 'application/json',
          req.endpoint === 'messages' ? req.clientHeaders?.['anthropic-beta'] : undefined,
        ),
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    };
  }

  decode(req: AdapterRequest<AnthropicSettings>, raw: Buffer): DecodedAnswer {
    let msg: unknown;
    try {
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      unreadable('an answer that is not JSON');
    }
    if (typeof msg !== 'object' || msg === null || (msg as Json).type !== 'message')
      unreadable('an answer that is not a message');
    const m = msg as Json;
    if (req.endpoint === 'messages') {
      return { body: raw, contentType: 'application/json', usage: normalizeUsage(m.usage) };
    }
    const { body, usage } = messageToChat(m, responseFormatTool(req.body));
    return { body: JSON.stringify(body), contentType: 'application/json', usage, json: body };
  }

  streamDecoder(req: AdapterRequest<AnthropicSettings>, opts: StreamOptions): StreamDecoder {
    if (req.endpoint === 'messages') return new PassThroughStream(opts.keepText);
    return new TranslatedStream(opts, responseFormatTool(req.body));
  }

  readError(status: number, text: string): UpstreamErrorInfo {
    return readAnthropicError(status, text);
  }

  /** Anthropic's own count of a Messages request's input tokens (`POST /v1/messages/count_tokens`). */
  async prepareCountTokens(
    channel: RoutedChannel,
    settings: AnthropicSettings,
    body: Record<string, unknown>,
  ): Promise<PreparedRequest> {
    return {
      origin: channel.origin,
      path: `${channel.basePath}/v1/messages/count_tokens`,
      headers: { ...headers(channel, settings, 'application/json'), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    };
  }

  async listModels(channel: RoutedChannel, settings: AnthropicSettings): Promise<PreparedRequest> {
    return {
      method: 'GET',
      origin: channel.origin,
      path: `${channel.basePath}/v1/models?limit=${MODELS_PAGE}`,
      headers: headers(channel, settings, 'application/json'),
      body: '',
    };
  }

  readModels(raw: Buffer): string[] {
    const list = (JSON.parse(raw.toString('utf8')) as { data?: unknown }).data;
    if (!Array.isArray(list)) unreadable('a model list without data');
    return list
      .map((m: unknown) => (typeof m === 'object' && m !== null ? (m as { id?: unknown }).id : undefined))
      .filter((id): id is string => typeof id === 'string');
  }
}
