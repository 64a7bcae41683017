import { Button, Code, Group, Modal, NumberInput, Select, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useState } from 'react';
import { EmptyRow, HeaderRow, PagedFooter, RowButton } from '../components/table';
import { get, type Page } from '../api';
import { useAuth } from '../auth';
import { useT } from '../i18n';
import { formatInt, formatUsd } from '../money';
import { ErrorAlert, PageTitle, Time, useLoad } from '../ui';

export interface UsageRow {
  id: number;
  type: string;
  request_id: string;
  created_at: string;
  user_id: number;
  token_id: number | null;
  channel_id: number | null;
  model: string | null;
  upstream_model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  quota: number;
  latency_ms: number | null;
  ttft_ms: number | null;
  stream: boolean;
  status: number | null;
  retries: number;
  note: string | null;
}

const num = (v: number | string) => (v === '' ? undefined : Number(v));

export default function Logs() {
  const t = useT();
  const { isAdmin } = useAuth();
  const [page, setPage] = useState(1);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [tokenId, setTokenId] = useState<number | string>('');
  const [userId, setUserId] = useState<number | string>('');
  const [channelId, setChannelId] = useState<number | string>('');
  const [model, setModel] = useState('');
  const [status, setStatus] = useState<number | string>('');
  const [type, setType] = useState<string | null>(null);
  const [dModel] = useDebouncedValue(model, 300);
  const [open, setOpen] = useState<UsageRow | null>(null);
  const perPage = 20;
  const filters = [from, to, tokenId, userId, channelId, dModel, status, type];
  useEffect(() => setPage(1), filters);
  const { data, error, reload } = useLoad(
    () =>
      get<Page<UsageRow>>('/api/logs', {
        page,
        per_page: perPage,
        from: from ? new Date(from).toISOString() : undefined,
        to: to ? new Date(to).toISOString() : undefined,
        token_id: num(tokenId),
        user_id: num(userId),
        channel_id: num(channelId),
        model: dModel,
        status: num(status),
        type: type ?? undefined,
      }),
    [page, ...filters],
  );
  const rows = data?.data ?? [];
  const pages = Math.max(1, Math.ceil((data?.total ?? 0) / perPage));
  return (
    <>
      <PageTitle
        right={
          <Button variant="default" onClick={() => void reload()}>
            {t('Refresh')}
          </Button>
        }
      >
        {t('Usage log')}
      </PageTitle>
      <Group mb="sm" align="end" wrap="wrap">
        <TextInput
          type="datetime-local"
          label={t('From')}
          value={from}
          onChange={(e) => setFrom(e.currentTarget.value)}
        />
        <TextInput
          type="datetime-local"
          label={t('To')}
          value={to}
          onChange={(e) => setTo(e.currentTarget.value)}
        />
        <NumberInput label={t('Token ID')} value={tokenId} onChange={setTokenId} min={1} w={110} />
        {isAdmin && <NumberInput label={t('User ID')} value={userId} onChange={setUserId} min={1} w={110} />}
        {isAdmin && (
          <NumberInput label={t('Channel ID')} value={channelId} onChange={setChannelId} min={1} w={110} />
        )}
        <TextInput
          label={t('Model')}
          value={model}
          onChange={(e) => setModel(e.currentTarget.value)}
          w={150}
        />
        <NumberInput
          label={t('HTTP status')}
          value={status}
          onChange={setStatus}
          min={100}
          max={599}
          w={110}
        />
        <Select
          label={t('Kind')}
          clearable
          value={type}
          onChange={setType}
          data={['consume', 'topup', 'adjust'].map((v) => ({ value: v, label: t(v) }))}
          w={130}
        />
      </Group>
      <ErrorAlert error={error} />
      <Table.ScrollContainer minWidth={1000}>
        <Table striped highlightOnHover verticalSpacing="xs" aria-label={t('Usage log')}>
          <HeaderRow
            columns={[
              t('Time'),
              t('Kind'),
              isAdmin && t('User'),
              t('Token'),
              isAdmin && t('Channel'),
              t('Model'),
              t('Tokens in / out'),
              t('Charge'),
              t('Latency'),
              t('Status'),
              '',
            ]}
          />
          <Table.Tbody>
            {rows.map((r) => (
              <Table.Tr key={r.id} data-testid={`log-row-${r.id}`}>
                <Table.Td>
                  <Time at={r.created_at} />
                </Table.Td>
                <Table.Td>{t(r.type)}</Table.Td>
                {isAdmin && <Table.Td>{r.user_id}</Table.Td>}
                <Table.Td>{r.token_id ?? '—'}</Table.Td>
                {isAdmin && <Table.Td>{r.channel_id ?? '—'}</Table.Td>}
                <Table.Td>{r.model ?? '—'}</Table.Td>
                <Table.Td>
                  {formatInt(r.prompt_tokens)} / {formatInt(r.completion_tokens)}
                </Table.Td>
                <Table.Td title={`${formatInt(r.quota)} ${t('units')}`} data-testid="log-charge">
                  {formatUsd(r.quota)}
                </Table.Td>
                <Table.Td>{r.latency_ms !== null ? `${r.latency_ms} ms` : '—'}</Table.Td>
                <Table.Td>{r.status ?? '—'}</Table.Td>
                <Table.Td>
                  <RowButton onClick={() => setOpen(r)}>{t('Details')}</RowButton>
                </Table.Td>
              </Table.Tr>
            ))}
            <EmptyRow show={rows.length === 0} colSpan={11}>
              {t('No entries')}
            </EmptyRow>
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <PagedFooter
        summary={t('{n} entries', { n: (data?.total ?? 0).toLocaleString() })}
        pages={pages}
        page={page}
        onPage={setPage}
      />
      {open && <LogDetails row={open} onClose={() => setOpen(null)} />}
    </>
  );
}

/** One request: everything the log row holds, and how its charge was computed (from GET /api/logs/:id). */
function LogDetails({ row, onClose }: { row: UsageRow; onClose(): void }) {
  const t = useT();
  const { data, error } = useLoad(
    () => get<{ data: UsageRow & { charge?: unknown } }>(`/api/logs/${row.id}`),
    [row.id],
  );
  const full: Record<string, unknown> = { ...row, ...(data?.data ?? {}) };
  const { charge, ...fields } = full;
  const label: Record<string, string> = {
    request_id: t('Request ID'),
    upstream_model: t('Upstream model'),
    ttft_ms: t('Time to first token (ms)'),
    latency_ms: t('Latency (ms)'),
    retries: t('Retries'),
    quota: t('Charge'),
    cached_tokens: t('Cached tokens'),
    stream: t('Streamed'),
  };
  return (
    <Modal opened onClose={onClose} title={t('Request {id}', { id: row.request_id })} size="lg">
      <ErrorAlert error={error} />
      <Table verticalSpacing={4} aria-label={t('Details')}>
        <Table.Tbody>
          {Object.entries(fields).map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Th w={220}>{label[k] ?? k}</Table.Th>
              <Table.Td>
                {k === 'quota' && typeof v === 'number'
                  ? `${formatUsd(v)} (${formatInt(v)} ${t('units')})`
                  : v === null || v === undefined
                    ? '—'
                    : typeof v === 'object'
                      ? JSON.stringify(v)
                      : String(v)}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {charge !== undefined && charge !== null && (
        <>
          <Text fw={700} mt="md" mb={4}>
            {t('How the charge was computed')}
          </Text>
          <ChargeView charge={charge as Charge} />
        </>
      )}
    </Modal>
  );
}

interface Charge {
  quota: number;
  usd?: number;
  priced: boolean;
  price_per_1m?: {
    input: number;
    output: number;
    cached_input: number | null;
    cache_write_input?: number | null;
  };
  group_ratio?: number;
  tokens?: {
    prompt: number;
    cached: number;
    cache_write?: number;
    uncached_prompt: number;
    completion: number;
  };
  explanation: string;
}

/** How the charge was computed: the prices and group ratio recorded with the request, and the formula. */
function ChargeView({ charge }: { charge: Charge }) {
  const t = useT();
  return (
    <div data-testid="charge-formula">
      {charge.priced && charge.price_per_1m && (
        <Table verticalSpacing={2} mb="xs" aria-label={t('How it was computed')}>
          <Table.Tbody>
            <Table.Tr>
              <Table.Th w={220}>{t('Price per 1M tokens')}</Table.Th>
              <Table.Td>
                {t('Input')} ${charge.price_per_1m.input} · {t('Cached input')}{' '}
                {charge.price_per_1m.cached_input === null ? '—' : `$${charge.price_per_1m.cached_input}`} ·{' '}
                {charge.price_per_1m.cache_write_input != null &&
                  `${t('Cache writes')} $${charge.price_per_1m.cache_write_input} · `}
                {t('Output')} ${charge.price_per_1m.output}
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>{t('Group ratio')}</Table.Th>
              <Table.Td>×{charge.group_ratio}</Table.Td>
            </Table.Tr>
            {charge.tokens && (
              <Table.Tr>
                <Table.Th>{t('Tokens in / out')}</Table.Th>
                <Table.Td>
                  {formatInt(charge.tokens.uncached_prompt)} + {formatInt(charge.tokens.cached)} (
                  {t('Cached tokens')})
                  {(charge.tokens.cache_write ?? 0) > 0 &&
                    ` + ${formatInt(charge.tokens.cache_write ?? 0)} (${t('Cache writes')})`}{' '}
                  / {formatInt(charge.tokens.completion)}
                </Table.Td>
              </Table.Tr>
            )}
            <Table.Tr>
              <Table.Th>{t('Charge')}</Table.Th>
              <Table.Td>
                {formatUsd(charge.quota)} ({formatInt(charge.quota)} {t('units')})
              </Table.Td>
            </Table.Tr>
          </Table.Tbody>
        </Table>
      )}
      {!charge.priced && <Text size="sm">{t('Not priced')}</Text>}
      <Code block>{charge.explanation}</Code>
    </div>
  );
}
