import type { RoutedChannel } from '../../cfg/routing-index.js';
import type { Endpoint, PreparedRequest, ProviderAdapter } from './provider-adapter.js';

const PATHS: Record<Endpoint, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
};

/** Any OpenAI-compatible upstream: the body goes as it is, to `base_url` + the OpenAI path. */
export class OpenAiAdapter implements ProviderAdapter {
  prepare(channel: RoutedChannel, endpoint: Endpoint, body: Record<string, unknown>): PreparedRequest {
    return {
      origin: channel.origin,
      path: channel.basePath + PATHS[endpoint],
      headers: {
        authorization: `Bearer ${channel.apiKey}`,
        'content-type': 'application/json',
        accept: body.stream === true ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
    };
  }

  listModels(channel: RoutedChannel): PreparedRequest {
    return {
      method: 'GET',
      origin: channel.origin,
      path: `${channel.basePath}/v1/models`,
      headers: { authorization: `Bearer ${channel.apiKey}`, accept: 'application/json' },
      body: '',
    };
  }
}
