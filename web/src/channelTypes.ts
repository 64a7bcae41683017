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
}

export interface ChannelTypeSpec {
  type: string;
  label: string;
  /** Default base URL; null when the type derives it from its settings (Bedrock: the region). */
  baseUrl: string | null;
  baseUrlRequired: boolean;
  keyLabel: string;
  /** Bedrock: two secrets (access key id and secret) joined into the key as `id:secret`. */
  keyParts?: [SettingField, SettingField];
  settings: SettingField[];
}

export const CHANNEL_TYPES: ChannelTypeSpec[] = [
  {
    type: 'openai',
    label: 'OpenAI-compatible',
    baseUrl: 'https://api.openai.com',
    baseUrlRequired: true,
    keyLabel: 'API key',
    settings: [],
  },
  {
    type: 'azure',
    label: 'Azure OpenAI',
    baseUrl: null,
    baseUrlRequired: true,
    keyLabel: 'API key',
    settings: [
      {
        name: 'api_version',
        label: 'API version',
        placeholder: '2024-10-21',
        required: true,
        description: 'The api-version query parameter of every request',
      },
    ],
  },
  {
    type: 'anthropic',
    label: 'Anthropic',
    baseUrl: 'https://api.anthropic.com',
    baseUrlRequired: true,
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
    baseUrlRequired: true,
    keyLabel: 'API key',
    settings: [{ name: 'api_version', label: 'API version', placeholder: 'v1beta' }],
  },
  {
    type: 'bedrock',
    label: 'AWS Bedrock',
    baseUrl: null,
    baseUrlRequired: false,
    keyLabel: 'AWS credentials',
    keyParts: [
      { name: 'access_key_id', label: 'Access key ID', placeholder: 'AKIA…', required: true },
      { name: 'secret_access_key', label: 'Secret access key', required: true, secret: true },
    ],
    settings: [{ name: 'region', label: 'Region', placeholder: 'us-east-1', required: true }],
  },
];

export function typeSpec(type: string): ChannelTypeSpec {
  return CHANNEL_TYPES.find((t) => t.type === type) ?? CHANNEL_TYPES[0]!;
}
