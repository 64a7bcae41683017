import { z } from 'zod';
import type { RoutedChannel } from '../../../cfg/routing-index.js';
import { OpenAiAdapter, type OpenAiSettings } from '../openai/openai.adapter.js';
import type { AdapterRequest, Endpoint, PreparedRequest, UpstreamErrorInfo } from '../provider-adapter.js';

/** The GA data-plane version used when a channel names none. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

export const azureSettings = z.strictObject({
  /**
   * `api-version` of the deployments API (`2024-10-21`, `2025-04-01-preview`…), or `v1` for
   * Azure's v1 API (`/openai/v1/…`, no version, the deployment named in the body's `model`).
   */
  api_version: z
    .string()
    .trim()
    .regex(/^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$/, 'v1, or a date such as 2024-10-21 (optionally -preview)')
    .default(AZURE_DEFAULT_API_VERSION),
  /** The deployment serves the Responses API (`/v1/responses` passes through). */
  responses_api: z.boolean().default(false),
});
export type AzureSettings = z.output<typeof azureSettings> & OpenAiSettings;

const OPERATION: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
  messages: '/messages',
};

/**
 * Azure OpenAI: `base_url` is the resource endpoint (`https://NAME.openai.azure.com`), the
 * deployment is the channel's mapped model name, the key goes in `api-key`. The wire format is
 * OpenAI's, so the rest is the OpenAI adapter's. A content-filter refusal is the client's.
 */
export class AzureAdapter extends OpenAiAdapter {
  override readonly type: string = 'azure';
  override readonly settings = azureSettings as unknown as z.ZodType<OpenAiSettings>;

  protected override path(req: AdapterRequest<OpenAiSettings>): string {
    const s = req.settings as AzureSettings;
    const base = req.channel.basePath;
    // Azure serves the Responses API on its v1 API only, which takes no dated api-version.
    if (s.api_version === 'v1' || req.endpoint === 'responses')
      return `${base}/openai/v1${OPERATION[req.endpoint]}`;
    const deployment = encodeURIComponent(String(req.body.model));
    return `${base}/openai/deployments/${deployment}${OPERATION[req.endpoint]}?api-version=${encodeURIComponent(s.api_version)}`;
  }

  protected override authHeaders(channel: RoutedChannel): Record<string, string> {
    return { 'api-key': channel.apiKey };
  }

  override readError(status: number, text: string): UpstreamErrorInfo {
    const info = super.readError(status, text);
    // Azure's content filter answers 400 (code content_filter, or an inner error of that code).
    if (
      status === 400 &&
      (info.code === 'content_filter' || /content_filter|ResponsibleAIPolicyViolation/i.test(text))
    )
      return { ...info, code: 'content_filter', kind: 'client' };
    return info;
  }

  override async listModels(channel: RoutedChannel, settings?: OpenAiSettings): Promise<PreparedRequest> {
    const s = (settings ?? azureSettings.parse({})) as AzureSettings;
    const path =
      s.api_version === 'v1'
        ? `${channel.basePath}/openai/v1/models`
        : `${channel.basePath}/openai/models?api-version=${encodeURIComponent(s.api_version)}`;
    return {
      method: 'GET',
      origin: channel.origin,
      path,
      headers: { ...this.authHeaders(channel), accept: 'application/json' },
      body: '',
    };
  }
}
