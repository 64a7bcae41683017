import type { RoutedChannel } from '../../../cfg/routing-index.js';
import { BadRequestError } from '../../../errors/bad-request.error.js';
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
import { BedrockStreamDecoder, decodeConverse } from './bedrock-answer.js';
import { authorize, bedrockCredentials } from './bedrock-credentials.js';
import { readBedrockError } from './bedrock-errors.js';
import { converseBody, modelSegment } from './bedrock-request.js';
import { bedrockSettingsSchema, type BedrockSettings } from './bedrock-settings.js';

/**
 * Amazon Bedrock's Converse API (`type: "bedrock"`): chat to `/model/{id}/converse`, streams
 * to `/model/{id}/converse-stream` (binary event stream). Every attempt is signed anew (SigV4
 * with the channel's access key, or a Bedrock API key as Bearer).
 */
export class BedrockAdapter implements ProviderAdapter<BedrockSettings> {
  readonly type = 'bedrock';
  readonly settings = bedrockSettingsSchema;
  private readonly served: ReadonlySet<Endpoint> = new Set<Endpoint>(['chat']);

  endpoints(): ReadonlySet<Endpoint> {
    return this.served;
  }

  async prepare(req: AdapterRequest<BedrockSettings>): Promise<PreparedRequest> {
    if (req.endpoint !== 'chat')
      throw new BadRequestError(`A Bedrock channel does not serve the ${req.endpoint} endpoint`);
    const model = typeof req.body.model === 'string' ? req.body.model : '';
    if (model === '') throw new BadRequestError('`model` must be a non-empty string', { param: 'model' });
    const path = `${req.channel.basePath}/model/${modelSegment(model)}/${req.stream ? 'converse-stream' : 'converse'}`;
    const body = JSON.stringify(converseBody(req.body));
    const headers = await authorize(
      {
        method: 'POST',
        origin: req.channel.origin,
        path,
        headers: {
          'content-type': 'application/json',
          accept: req.stream ? 'application/vnd.amazon.eventstream' : 'application/json',
        },
        body,
      },
      bedrockCredentials(req.channel.apiKey),
      req.settings.region,
    );
    return { origin: req.channel.origin, path, headers, body };
  }

  decode(req: AdapterRequest<BedrockSettings>, raw: Buffer): DecodedAnswer {
    const { json, usage } = decodeConverse(raw, String(req.body.model));
    return { body: JSON.stringify(json), contentType: 'application/json', usage, json };
  }

  streamDecoder(_req: AdapterRequest<BedrockSettings>, opts: StreamOptions): StreamDecoder {
    return new BedrockStreamDecoder(opts);
  }

  readError(status: number, text: string): UpstreamErrorInfo {
    return readBedrockError(status, text);
  }

  /**
   * `ListFoundationModels` lives on the control-plane host (`bedrock.<region>…`, not
   * `bedrock-runtime.<region>…`); a base URL that is not AWS's (a proxy, a test) is asked itself.
   */
  async listModels(channel: RoutedChannel, settings: BedrockSettings): Promise<PreparedRequest> {
    const origin = channel.origin.replace(/^(https?:\/\/)bedrock-runtime([.-])/, '$1bedrock$2');
    const path = `${origin === channel.origin ? channel.basePath : ''}/foundation-models`;
    const headers = await authorize(
      { method: 'GET', origin, path, headers: { accept: 'application/json' }, body: '' },
      bedrockCredentials(channel.apiKey),
      settings.region,
    );
    return { method: 'GET', origin, path, headers, body: '' };
  }

  readModels(raw: Buffer): string[] {
    const res = JSON.parse(raw.toString('utf8')) as { modelSummaries?: { modelId?: unknown }[] };
    return (res.modelSummaries ?? [])
      .map((m) => m.modelId)
      .filter((id): id is string => typeof id === 'string');
  }
}
