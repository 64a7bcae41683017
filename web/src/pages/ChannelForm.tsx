import {
  Button,
  Group,
  JsonInput,
  Modal,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { get, patch, post } from '../api';
import { CHANNEL_TYPES, typeSpec } from '../channelTypes';
import { Columns } from '../Columns';
import { useT } from '../i18n';
import { ErrorAlert } from '../ui';

export interface Channel {
  id: number;
  name: string;
  type: string;
  base_url: string;
  key_masked: string;
  models: string[];
  groups: string[];
  model_mapping: Record<string, string>;
  priority: number;
  weight: number;
  status: string;
  status_reason: string | null;
  test_model: string | null;
  connect_timeout_ms: number | null;
  first_byte_timeout_ms: number | null;
  idle_timeout_ms: number | null;
  settings?: Record<string, unknown> | null;
}

/** Create or edit a channel; the fields shown depend on its provider type. */
export function ChannelForm({
  channel,
  onClose,
  onSaved,
}: {
  channel: Channel | null;
  onClose(): void;
  onSaved(): void;
}) {
  const t = useT();
  const [type, setType] = useState(channel?.type ?? 'openai');
  const spec = typeSpec(type);
  const [name, setName] = useState(channel?.name ?? '');
  const [baseUrl, setBaseUrl] = useState(channel?.base_url ?? spec.baseUrl ?? '');
  const [key, setKey] = useState('');
  const [keyParts, setKeyParts] = useState<[string, string]>(['', '']);
  const [settings, setSettings] = useState<Record<string, unknown>>(() => ({ ...(channel?.settings ?? {}) }));
  // Settings the form has no field for (e.g. Gemini's safety_settings), edited as JSON.
  const known = new Set(spec.settings.map((f) => f.name));
  const [otherSettings, setOtherSettings] = useState(() => {
    const rest = Object.fromEntries(Object.entries(channel?.settings ?? {}).filter(([k]) => !known.has(k)));
    return Object.keys(rest).length > 0 ? JSON.stringify(rest, null, 2) : '';
  });
  const [models, setModels] = useState<string[]>(channel?.models ?? []);
  const [groups, setGroups] = useState<string[]>(channel?.groups ?? ['default']);
  const [mapping, setMapping] = useState(
    channel && Object.keys(channel.model_mapping).length > 0
      ? JSON.stringify(channel.model_mapping, null, 2)
      : '',
  );
  const [priority, setPriority] = useState<number | string>(channel?.priority ?? 0);
  const [weight, setWeight] = useState<number | string>(channel?.weight ?? 1);
  const [testModel, setTestModel] = useState(channel?.test_model ?? '');
  const [firstByte, setFirstByte] = useState<number | string>(channel?.first_byte_timeout_ms ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [fetching, setFetching] = useState(false);
  const [upstream, setUpstream] = useState<string[] | null>(null);

  function changeType(next: string | null) {
    if (!next) return;
    const nextSpec = typeSpec(next);
    if (!channel && (baseUrl === '' || baseUrl === spec.baseUrl)) setBaseUrl(nextSpec.baseUrl ?? '');
    setType(next);
  }

  async function fetchModels() {
    if (!channel) return;
    setFetching(true);
    setError(null);
    try {
      const r = await get<{ data: string[] }>(`/api/channels/${channel.id}/upstream-models`);
      setUpstream(r.data);
    } catch (err) {
      setError(err);
    } finally {
      setFetching(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    let modelMapping: Record<string, string> = {};
    if (mapping.trim()) {
      try {
        modelMapping = JSON.parse(mapping) as Record<string, string>;
      } catch {
        setError(new Error(t('Model mapping must be a JSON object such as {"gpt-4o": "gpt-4o-2024-08-06"}')));
        return;
      }
    }
    const body: Record<string, unknown> = {
      name: name.trim(),
      type,
      models,
      groups,
      model_mapping: modelMapping,
      priority: Number(priority),
      weight: Number(weight),
      test_model: testModel.trim() || null,
      first_byte_timeout_ms: firstByte === '' ? null : Number(firstByte),
    };
    body.base_url = baseUrl.trim();
    // Bedrock: an access key is `id:secret`; a Bedrock API key goes as it is.
    const composedKey =
      spec.keyParts && keyParts[0].trim() && keyParts[1].trim()
        ? `${keyParts[0].trim()}:${keyParts[1].trim()}`
        : key.trim();
    if (composedKey) body.key = composedKey;
    let extra: Record<string, unknown> = {};
    if (otherSettings.trim()) {
      try {
        extra = JSON.parse(otherSettings) as Record<string, unknown>;
      } catch {
        setError(new Error(t('Other settings must be a JSON object')));
        return;
      }
    }
    const typeSettings: Record<string, unknown> = { ...extra };
    for (const f of spec.settings) {
      const v = settings[f.name];
      if (typeof v === 'string' ? v.trim() : v !== undefined && v !== null)
        typeSettings[f.name] = typeof v === 'string' ? v.trim() : v;
    }
    body.settings = typeSettings;
    setBusy(true);
    try {
      if (channel) await patch(`/api/channels/${channel.id}`, body);
      else await post('/api/channels', body);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      opened
      onClose={onClose}
      size="lg"
      title={channel ? t('Edit channel {name}', { name: channel.name }) : t('New channel')}
    >
      <form onSubmit={(e) => void submit(e)}>
        <Stack gap="sm">
          <Columns cols={2}>
            <Select
              label={t('Type')}
              value={type}
              onChange={changeType}
              allowDeselect={false}
              data={CHANNEL_TYPES.map((c) => ({ value: c.type, label: c.label }))}
            />
            <TextInput
              label={t('Name')}
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              required
            />
          </Columns>
          <TextInput
            label={t('Base URL')}
            description={
              spec.baseUrlFromRegion
                ? t('Filled in from the region; a VPC endpoint may go here instead')
                : t('Everything before /v1, e.g. https://api.openai.com')
            }
            placeholder={spec.baseUrlPlaceholder ?? spec.baseUrl ?? undefined}
            value={baseUrl}
            onChange={(e) => setBaseUrl(e.currentTarget.value)}
            required
          />
          {spec.keyParts && (
            <Columns cols={2}>
              {spec.keyParts.map((f, i) => (
                <PasswordInput
                  key={f.name}
                  label={t(f.label)}
                  placeholder={f.placeholder}
                  value={keyParts[i]}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setKeyParts((p) => (i === 0 ? [v, p[1]] : [p[0], v]));
                  }}
                  autoComplete="off"
                />
              ))}
            </Columns>
          )}
          <PasswordInput
            label={t(spec.keyLabel)}
            description={
              channel ? t('Now {masked}; leave empty to keep it', { masked: channel.key_masked }) : undefined
            }
            value={key}
            onChange={(e) => setKey(e.currentTarget.value)}
            required={!channel && !(spec.keyParts && keyParts[0] && keyParts[1])}
            autoComplete="off"
          />
          {spec.settings.length > 0 && (
            <Columns cols={2}>
              {spec.settings.map((f) =>
                f.kind === 'boolean' ? (
                  <Switch
                    key={f.name}
                    label={t(f.label)}
                    description={f.description ? t(f.description) : undefined}
                    checked={settings[f.name] === true}
                    onChange={(e) => {
                      const v = e.currentTarget.checked;
                      setSettings((s) => ({ ...s, [f.name]: v }));
                    }}
                  />
                ) : (
                  <TextInput
                    key={f.name}
                    label={t(f.label)}
                    description={f.description ? t(f.description) : undefined}
                    placeholder={f.placeholder}
                    required={f.required}
                    value={typeof settings[f.name] === 'string' ? (settings[f.name] as string) : ''}
                    onChange={(e) => {
                      const v = e.currentTarget.value;
                      setSettings((s) => ({ ...s, [f.name]: v }));
                      if (f.name === 'region' && spec.baseUrlFromRegion) {
                        const from = spec.baseUrlFromRegion;
                        const before =
                          typeof settings.region === 'string' ? from(String(settings.region)) : '';
                        if (!baseUrl || baseUrl === before) setBaseUrl(v ? from(v) : '');
                      }
                    }}
                  />
                ),
              )}
            </Columns>
          )}
          <JsonInput
            label={t('Other settings')}
            description={t('JSON: provider settings without a field above (e.g. Gemini safety_settings)')}
            value={otherSettings}
            onChange={setOtherSettings}
            autosize
            minRows={1}
            placeholder="{}"
          />
          <TagsInput
            label={t('Models')}
            description={t('Empty: the channel serves every model. Press Enter after each.')}
            value={models}
            onChange={setModels}
            clearable
          />
          <Group gap="xs">
            <Button
              size="xs"
              variant="default"
              onClick={() => void fetchModels()}
              loading={fetching}
              disabled={!channel}
            >
              {t('Fetch upstream models')}
            </Button>
            {!channel && (
              <Text size="xs" c="dimmed">
                {t('Save the channel first to fetch its upstream models')}
              </Text>
            )}
            {upstream && (
              <>
                <Text size="xs">{t('{n} models upstream', { n: upstream.length })}</Text>
                <Button
                  size="xs"
                  variant="light"
                  onClick={() => setModels([...new Set([...models, ...upstream])])}
                >
                  {t('Add all')}
                </Button>
              </>
            )}
          </Group>
          {upstream && upstream.length > 0 && (
            <Text size="xs" c="dimmed" data-testid="upstream-models">
              {upstream.join(', ')}
            </Text>
          )}
          <TagsInput label={t('Groups')} value={groups} onChange={setGroups} />
          <Columns cols={3}>
            <NumberInput label={t('Priority')} value={priority} onChange={setPriority} allowDecimal={false} />
            <NumberInput
              label={t('Weight')}
              value={weight}
              onChange={setWeight}
              min={0}
              allowDecimal={false}
            />
            <NumberInput
              label={t('First byte timeout (ms)')}
              value={firstByte}
              onChange={setFirstByte}
              min={1}
              allowDecimal={false}
              placeholder={t('global')}
            />
          </Columns>
          <TextInput
            label={t('Test model')}
            value={testModel}
            onChange={(e) => setTestModel(e.currentTarget.value)}
          />
          <JsonInput
            label={t('Model mapping')}
            description={t('JSON: the name clients ask for → the upstream name')}
            value={mapping}
            onChange={setMapping}
            autosize
            minRows={2}
            placeholder='{"gpt-4o": "gpt-4o-2024-08-06"}'
          />
          <ErrorAlert error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('Cancel')}
            </Button>
            <Button type="submit" loading={busy}>
              {t('Save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
