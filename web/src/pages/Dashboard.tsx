import { Card, Group, Paper, SegmentedControl, Table, Text, TextInput, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import { get } from '../api';
import { SeriesChart } from '../components/charts';
import { Columns } from '../Columns';
import { useT } from '../i18n';
import { formatInt, formatUsd, unitsToUsd } from '../money';
import { ErrorAlert, PageTitle, useLoad } from '../ui';

interface Point {
  t: string;
  requests: number;
  tokens: number;
  quota: number;
  errors: number;
}

/** A top list row: `model` (models), `channel_id` + `name` (channels), `token_id` + `name` (tokens). */
interface TopItem {
  model?: string;
  channel_id?: number;
  token_id?: number;
  name?: string | null;
  requests: number;
  quota: number;
}

interface DashboardAnswer {
  series: Point[];
  top_models: TopItem[];
  top_channels: TopItem[];
  top_tokens: TopItem[];
}

const RANGES: Record<string, { hours: number; bucket: 'hour' | 'day' }> = {
  '24h': { hours: 24, bucket: 'hour' },
  '7d': { hours: 24 * 7, bucket: 'day' },
  '30d': { hours: 24 * 30, bucket: 'day' },
};

export default function Dashboard() {
  const t = useT();
  const [range, setRange] = useState('24h');
  const [customFrom, setCustomFrom] = useState('');
  const [customTo, setCustomTo] = useState('');
  // A custom range goes by hour up to 3 days, by day beyond.
  const customHours =
    customFrom && customTo ? (new Date(customTo).getTime() - new Date(customFrom).getTime()) / 3600_000 : 0;
  const bucket: 'hour' | 'day' =
    range === 'custom' ? (customHours <= 72 ? 'hour' : 'day') : RANGES[range]!.bucket;
  const { data, error } = useLoad(async () => {
    if (range === 'custom') {
      if (!(customHours > 0)) return undefined;
      return get<DashboardAnswer>('/api/dashboard', {
        from: new Date(customFrom).toISOString(),
        to: new Date(customTo).toISOString(),
        bucket,
      });
    }
    const r = RANGES[range]!;
    const to = new Date();
    const from = new Date(to.getTime() - r.hours * 3600_000);
    return get<DashboardAnswer>('/api/dashboard', {
      from: from.toISOString(),
      to: to.toISOString(),
      bucket: r.bucket,
    });
  }, [range, customFrom, customTo]);

  const points = useMemo(
    () =>
      (data?.series ?? []).map((p) => ({
        ...p,
        label:
          bucket === 'hour'
            ? new Date(p.t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
            : new Date(p.t).toLocaleDateString(),
        spend: unitsToUsd(p.quota),
        error_rate: p.requests > 0 ? (100 * p.errors) / p.requests : 0,
      })),
    [data, bucket],
  );
  const totals = useMemo(() => {
    const s = { requests: 0, tokens: 0, quota: 0, errors: 0 };
    for (const p of data?.series ?? []) {
      s.requests += p.requests;
      s.tokens += p.tokens;
      s.quota += p.quota;
      s.errors += p.errors;
    }
    return s;
  }, [data]);

  return (
    <>
      <PageTitle
        right={
          <Group align="end">
            {range === 'custom' && (
              <>
                <TextInput
                  type="datetime-local"
                  size="xs"
                  label={t('From')}
                  value={customFrom}
                  onChange={(e) => setCustomFrom(e.currentTarget.value)}
                />
                <TextInput
                  type="datetime-local"
                  size="xs"
                  label={t('To')}
                  value={customTo}
                  onChange={(e) => setCustomTo(e.currentTarget.value)}
                />
              </>
            )}
            <SegmentedControl
              aria-label={t('Time range')}
              value={range}
              onChange={setRange}
              data={[
                { value: '24h', label: t('24 hours') },
                { value: '7d', label: t('7 days') },
                { value: '30d', label: t('30 days') },
                { value: 'custom', label: t('Custom') },
              ]}
            />
          </Group>
        }
      >
        {t('Dashboard')}
      </PageTitle>
      <ErrorAlert error={error} />
      <Columns cols={4} mb="md">
        <Stat label={t('Requests')} value={formatInt(totals.requests)} testId="stat-requests" />
        <Stat label={t('Tokens')} value={formatInt(totals.tokens)} testId="stat-tokens" />
        <Stat label={t('Spend')} value={formatUsd(totals.quota)} testId="stat-spend" />
        <Stat
          label={t('Error rate')}
          value={totals.requests > 0 ? `${((100 * totals.errors) / totals.requests).toFixed(2)}%` : '—'}
          testId="stat-errors"
        />
      </Columns>
      <Columns cols={2} mb="md">
        <SeriesChart
          title={t('Requests')}
          points={points}
          dataKey="requests"
          name={t('Requests')}
          stroke="#364fc7"
          fill="#bac8ff"
          yAxis={{ allowDecimals: false }}
        />
        <SeriesChart
          title={t('Tokens')}
          points={points}
          dataKey="tokens"
          name={t('Tokens')}
          stroke="#087f5b"
          fill="#96f2d7"
        />
        <SeriesChart
          title={t('Spend (US$)')}
          points={points}
          dataKey="spend"
          name={t('Spend')}
          stroke="#e8590c"
          format={(v) => `$${v.toFixed(6)}`}
        />
        <SeriesChart
          title={t('Error rate (%)')}
          points={points}
          dataKey="error_rate"
          name={t('Error rate')}
          stroke="#c92a2a"
          yAxis={{ unit: '%' }}
          format={(v) => `${v.toFixed(2)}%`}
        />
      </Columns>
      <Columns cols={3}>
        <TopTable title={t('Top models')} items={data?.top_models ?? []} testId="top-models" />
        <TopTable title={t('Top channels')} items={data?.top_channels ?? []} testId="top-channels" />
        <TopTable title={t('Top tokens')} items={data?.top_tokens ?? []} testId="top-tokens" />
      </Columns>
    </>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Card withBorder padding="md">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text size="xl" fw={700} data-testid={testId}>
        {value}
      </Text>
    </Card>
  );
}

function itemName(i: TopItem): string {
  if (i.model !== undefined) return i.model;
  const id = i.channel_id ?? i.token_id;
  if (i.name) return `${i.name} (#${id})`;
  return id !== undefined ? `#${id}` : '—';
}

function TopTable({ title, items, testId }: { title: string; items: TopItem[]; testId: string }) {
  const t = useT();
  return (
    <Paper withBorder p="md">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h5">
          {title}
        </Title>
      </Group>
      <Table verticalSpacing={4} data-testid={testId} aria-label={title}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('Name')}</Table.Th>
            <Table.Th ta="right">{t('Requests')}</Table.Th>
            <Table.Th ta="right">{t('Spend')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((i, n) => (
            <Table.Tr key={n}>
              <Table.Td>{itemName(i)}</Table.Td>
              <Table.Td ta="right">{formatInt(i.requests)}</Table.Td>
              <Table.Td ta="right">{formatUsd(i.quota, 4)}</Table.Td>
            </Table.Tr>
          ))}
          {items.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={3}>
                <Text c="dimmed" size="sm">
                  {t('Nothing in this range')}
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}
