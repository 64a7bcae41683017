/**
 * The provider types a channel can have, and what each needs besides name, models and groups.
 * `settings` fields are sent as the channel's `settings` JSON object; `key` fields make up its key.
 */
export interface SettingField {
  name: string;
  label: string;
  placeholder?: string;
  description?: string;
  required?: boolean;
  secret?: boolean;
  /** A text field (default) or a yes/no switch. */
  kind?: 'text' | 'boolean';
}

const responsesApi: SettingField = {
  name: 'responses_api',
  label: 'The upstream serves the Responses API',
  description: '/v1/responses passes through instead of being bridged through chat',
  kind: 'boolean',
};

export interface ChannelTypeSpec {
  type: string;
  label: string;
  /** Default base URL; null when it depends on the account (Azure: the resource; Bedrock: the region). */
  baseUrl: string | null;
  baseUrlPlaceholder?: string;
  /** Bedrock: the base URL follows from the region. */
  baseUrlFromRegion?: (region: string) => string;
  keyLabel: string;
  /** Bedrock: an access key id and its secret, joined into the key as `id:secret` (or an API key in `key`). */
  keyParts?: [SettingField, SettingField];
  settings: SettingField[];
}

export const CHANNEL_TYPES: ChannelTypeSpec[] = [
  {
    type: 'openai',
    label: 'OpenAI-compatible',
    baseUrl: 'https://api.openai.com',
    keyLabel: 'API key',
    settings: [responsesApi],
  },
  {
    type: 'azure',
    label: 'Azure OpenAI',
    baseUrl: null,
    baseUrlPlaceholder: 'https://NAME.openai.azure.com',
    keyLabel: 'API key',
    settings: [
      {
        name: 'api_version',
        label: 'API version',
        placeholder: '2024-10-21',
        description: 'The api-version of the deployments API (a date), or v1 for the v1 API',
      },
      responsesApi,
    ],
  },
  {
    type: 'anthropic',
    label: 'Anthropic',
    baseUrl: 'https://api.anthropic.com',
    keyLabel: 'API key',
    settings: [
      {
        name: 'anthropic_version',
        label: 'anthropic-version header',
        placeholder: '2023-06-01',
      },
    ],
  },
  {
    type: 'gemini',
    label: 'Google Gemini',
    baseUrl: 'https://generativelanguage.googleapis.com',
    keyLabel: 'API key',
    settings: [{ name: 'api_version', label: 'API version', placeholder: 'v1beta' }],
  },
  {
    type: 'bedrock',
    label: 'AWS Bedrock',
    baseUrl: null,
    baseUrlPlaceholder: 'https://bedrock-runtime.us-east-1.amazonaws.com',
    baseUrlFromRegion: (region) => `https://bedrock-runtime.${region}.amazonaws.com`,
    keyLabel: 'Bedrock API key (instead of an access key)',
    keyParts: [
      { name: 'access_key_id', label: 'Access key ID', placeholder: 'AKIA…' },
      { name: 'secret_access_key', label: 'Secret access key', secret: true },
    ],
    settings: [{ name: 'region', label: 'Region', placeholder: 'us-east-1', required: true }],
  },
];

export function typeSpec(type: string): ChannelTypeSpec {
  return CHANNEL_TYPES.find((t) => t.type === type) ?? CHANNEL_TYPES[0]!;
}
