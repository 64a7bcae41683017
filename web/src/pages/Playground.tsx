import {
  Alert,
  Button,
  Group,
  Paper,
  PasswordInput,
  Select,
  Stack,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useRef, useState, type FormEvent } from 'react';
import { get } from '../api';
import { useT } from '../i18n';
import { formatInt, formatUsd } from '../money';
import { recentKeys } from '../recentKeys';
import { ErrorAlert, PageTitle } from '../ui';

interface Message {
  role: 'user' | 'assistant';
  content: string;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

interface ChatChunk {
  choices?: { delta?: { content?: unknown } }[];
  usage?: Usage | null;
}

interface Charge {
  quota: number;
  request_id: string;
  latency_ms: number | null;
  ttft_ms: number | null;
}

/** Reads an OpenAI server-sent-event stream: calls `onData` with each `data:` JSON payload. */
async function readSse(body: ReadableStream<Uint8Array>, onData: (json: ChatChunk) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
      for (const line of event.split(/\r?\n/)) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        onData(JSON.parse(data) as ChatChunk);
      }
    }
  }
}

/** Chat through the relay with a token key, streamed, then the usage and the charge from the usage log. */
export default function Playground() {
  const t = useT();
  const recent = recentKeys();
  const [key, setKey] = useState(recent[0]?.key ?? '');
  const [model, setModel] = useState('');
  const [models, setModels] = useState<string[]>([]);
  const [input, setInput] = useState('');
  const [messages, setMessages] = useState<Message[]>([]);
  const [streaming, setStreaming] = useState(false);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [charge, setCharge] = useState<Charge | null | 'pending'>(null);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);

  async function loadModels() {
    setError(null);
    try {
      const res = await fetch('/v1/models', { headers: { authorization: `Bearer ${key.trim()}` } });
      const json = await res.json();
      if (!res.ok) throw new Error(json?.error?.message ?? `HTTP ${res.status}`);
      const ids = (json.data as { id: string }[]).map((m) => m.id);
      setModels(ids);
      if (!model && ids[0]) setModel(ids[0]);
    } catch (err) {
      setError(err);
    }
  }

  async function findCharge(requestId: string) {
    // The usage row is written as the answer ends; it may take a moment to be readable.
    for (let i = 0; i < 20; i++) {
      try {
        const r = await get<{ data: Charge[] }>('/api/logs', { request_id: requestId, type: 'consume' });
        if (r.data[0]) return r.data[0];
      } catch {
        // signed-in user may not see it yet; try again
      }
      await new Promise((ok) => setTimeout(ok, 250));
    }
    return null;
  }

  async function send(e: FormEvent) {
    e.preventDefault();
    if (!input.trim()) return;
    const history: Message[] = [...messages, { role: 'user', content: input }];
    setMessages([...history, { role: 'assistant', content: '' }]);
    setInput('');
    setUsage(null);
    setCharge(null);
    setError(null);
    setStreaming(true);
    abort.current = new AbortController();
    try {
      const res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key.trim()}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          messages: history,
          stream: true,
          stream_options: { include_usage: true },
        }),
        signal: abort.current.signal,
      });
      const requestId = res.headers.get('x-request-id');
      if (!res.ok || !res.body) {
        const json = await res.json().catch(() => null);
        throw new Error(json?.error?.message ?? `HTTP ${res.status}`);
      }
      let text = '';
      await readSse(res.body, (chunk) => {
        const delta = chunk.choices?.[0]?.delta?.content;
        if (typeof delta === 'string') {
          text += delta;
          setMessages([...history, { role: 'assistant', content: text }]);
        }
        if (chunk.usage) setUsage(chunk.usage);
      });
      if (requestId) {
        setCharge('pending');
        setCharge(await findCharge(requestId));
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(err);
    } finally {
      setStreaming(false);
      abort.current = null;
    }
  }

  return (
    <>
      <PageTitle>{t('Playground')}</PageTitle>
      <Stack maw={900}>
        <Group align="end" wrap="wrap">
          {recent.length > 0 && (
            <Select
              label={t('A token created just now')}
              data={recent.map((r) => ({ value: r.key, label: r.name }))}
              value={recent.some((r) => r.key === key) ? key : null}
              onChange={(v) => v && setKey(v)}
              w={220}
            />
          )}
          <PasswordInput
            label={t('Token key')}
            description={t('Paste a key (sk-…); it stays in this page only')}
            value={key}
            onChange={(e) => setKey(e.currentTarget.value)}
            w={340}
            autoComplete="off"
          />
          <Button variant="default" onClick={() => void loadModels()} disabled={!key.trim()}>
            {t('Load models')}
          </Button>
          {models.length > 0 ? (
            <Select
              label={t('Model')}
              data={models}
              value={model}
              onChange={(v) => setModel(v ?? '')}
              searchable
              w={220}
            />
          ) : (
            <TextInput
              label={t('Model')}
              value={model}
              onChange={(e) => setModel(e.currentTarget.value)}
              w={220}
            />
          )}
        </Group>
        <Paper withBorder p="md" mih={200} aria-live="polite" aria-label={t('Conversation')}>
          <Stack gap="sm">
            {messages.length === 0 && <Text c="dimmed">{t('Send a message to start.')}</Text>}
            {messages.map((m, i) => (
              <div key={i} data-testid={`message-${m.role}`}>
                <Text size="xs" fw={700} c={m.role === 'user' ? 'indigo.9' : 'teal.9'}>
                  {m.role === 'user' ? t('You') : t('Assistant')}
                </Text>
                <Text style={{ whiteSpace: 'pre-wrap' }}>{m.content}</Text>
              </div>
            ))}
          </Stack>
        </Paper>
        <form onSubmit={(e) => void send(e)}>
          <Stack gap="xs">
            <Textarea
              label={t('Message')}
              value={input}
              onChange={(e) => setInput(e.currentTarget.value)}
              autosize
              minRows={2}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send(e);
              }}
            />
            <Group>
              <Button type="submit" loading={streaming} disabled={!key.trim() || !model.trim()}>
                {t('Send')}
              </Button>
              {streaming && (
                <Button variant="default" onClick={() => abort.current?.abort()}>
                  {t('Stop')}
                </Button>
              )}
              <Button
                variant="subtle"
                onClick={() => {
                  setMessages([]);
                  setUsage(null);
                  setCharge(null);
                }}
              >
                {t('Clear')}
              </Button>
            </Group>
          </Stack>
        </form>
        <ErrorAlert error={error} />
        {usage && (
          <Alert color="blue" title={t('Usage')} data-testid="usage">
            {t('{p} prompt + {c} completion = {t} tokens', {
              p: usage.prompt_tokens,
              c: usage.completion_tokens,
              t: usage.total_tokens,
            })}
          </Alert>
        )}
        {charge === 'pending' && <Text size="sm">{t('Looking up the charge…')}</Text>}
        {charge && charge !== 'pending' && (
          <Alert color="green" title={t('Charge')} data-testid="charge">
            {formatUsd(charge.quota)} ({formatInt(charge.quota)} {t('units')}) · {t('request')}{' '}
            {charge.request_id}
            {charge.ttft_ms !== null ? ` · TTFT ${charge.ttft_ms} ms` : ''}
            {charge.latency_ms !== null ? ` · ${t('latency')} ${charge.latency_ms} ms` : ''}
          </Alert>
        )}
        {charge === null && usage && !streaming && error === null && (
          <Text size="sm" c="dimmed">
            {t('The charge is not in the usage log (yet).')}
          </Text>
        )}
      </Stack>
    </>
  );
}
