import {
  Badge,
  Button,
  Checkbox,
  Group,
  Menu,
  Pagination,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useState } from 'react';
import { EmptyRow, RowButton } from '../components/table';
import { get, patch, post, type Page } from '../api';
import { CHANNEL_TYPES } from '../channelTypes';
import { useT } from '../i18n';
import { ErrorAlert, PageTitle, StatusBadge, errorText, useLoad } from '../ui';
import { ChannelForm, type Channel } from './ChannelForm';

interface TestAnswer {
  ok: boolean;
  latency_ms: number | null;
  status: number | null;
  model: string | null;
  message: string | null;
  at: string;
}

interface Health {
  last_test: TestAnswer | null;
  stats: {
    requests: number;
    errors: number;
    error_rate: number;
    latency_p50_ms: number | null;
    latency_p95_ms: number | null;
    window_minutes: number;
  } | null;
  models: {
    model: string;
    breaker: string;
    cooling_until: string | null;
    open_until: string | null;
    reason: string | null;
  }[];
}

export default function Channels() {
  const t = useT();
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState('20');
  const [q, setQ] = useState('');
  const [debouncedQ] = useDebouncedValue(q, 300);
  const [type, setType] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [group, setGroup] = useState('');
  const [model, setModel] = useState('');
  const [debouncedGroup] = useDebouncedValue(group, 300);
  const [debouncedModel] = useDebouncedValue(model, 300);
  const [live, setLive] = useState(true);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [editing, setEditing] = useState<Channel | 'new' | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<number, TestAnswer | 'running' | string>>({});

  useEffect(() => setPage(1), [debouncedQ, type, status, debouncedGroup, debouncedModel, perPage]);

  const { data, error, reload } = useLoad(
    () =>
      get<Page<Channel & { health: Health | null }>>('/api/channels', {
        page,
        per_page: perPage,
        q: debouncedQ,
        type: type ?? undefined,
        status: status ?? undefined,
        group: debouncedGroup,
        model: debouncedModel,
      }),
    [page, perPage, debouncedQ, type, status, debouncedGroup, debouncedModel],
  );

  // Live health: the page reloads its rows every 5 s while the tab is visible.
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void reload();
    }, 5000);
    return () => clearInterval(timer);
  }, [live, reload]);

  const rows = data?.data ?? [];
  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / Number(perPage)));

  async function run(label: string, fn: () => Promise<unknown>) {
    setActionError(null);
    setNotice(null);
    try {
      await fn();
      setNotice(label);
      await reload();
    } catch (err) {
      setActionError(err);
    }
  }

  async function test(id: number) {
    setTests((s) => ({ ...s, [id]: 'running' }));
    try {
      const r = await post<{ data: TestAnswer }>(`/api/channels/${id}/test`, {});
      setTests((s) => ({ ...s, [id]: r.data }));
      void reload();
    } catch (err) {
      setTests((s) => ({ ...s, [id]: errorText(err) }));
    }
  }

  async function bulk(action: string) {
    const ids = [...selected];
    setActionError(null);
    setNotice(null);
    try {
      const r = await post<{ data: { done: number[]; failed: { id: number; message: string }[] } }>(
        '/api/channels/bulk',
        { ids, action },
      );
      setSelected(new Set());
      setNotice(t('{n} channels: {action} done', { n: r.data.done.length, action: t(action) }));
      if (r.data.failed.length > 0)
        setActionError(new Error(r.data.failed.map((f) => `#${f.id}: ${f.message}`).join('; ')));
      await reload();
    } catch (err) {
      setActionError(err);
    }
  }

  const allOnPage = rows.length > 0 && rows.every((r) => selected.has(r.id));

  return (
    <>
      <PageTitle
        right={
          <Button onClick={() => setEditing('new')} data-testid="new-channel">
            {t('New channel')}
          </Button>
        }
      >
        {t('Channels')}
      </PageTitle>
      <Group mb="sm" align="end" wrap="wrap">
        <TextInput
          label={t('Search')}
          placeholder={t('name or base URL')}
          value={q}
          onChange={(e) => setQ(e.currentTarget.value)}
        />
        <Select
          label={t('Type')}
          clearable
          value={type}
          onChange={setType}
          data={CHANNEL_TYPES.map((c) => ({ value: c.type, label: c.label }))}
          w={170}
        />
        <Select
          label={t('Status')}
          clearable
          value={status}
          onChange={setStatus}
          data={['enabled', 'disabled', 'auto_disabled'].map((s) => ({ value: s, label: t(s) }))}
          w={150}
        />
        <TextInput
          label={t('Group')}
          value={group}
          onChange={(e) => setGroup(e.currentTarget.value)}
          w={130}
        />
        <TextInput
          label={t('Model')}
          value={model}
          onChange={(e) => setModel(e.currentTarget.value)}
          w={160}
        />
        <Switch
          label={t('Live health')}
          checked={live}
          onChange={(e) => setLive(e.currentTarget.checked)}
          mb={8}
        />
      </Group>
      <Group mb="sm" gap="xs">
        <Text size="sm">{t('{n} selected', { n: selected.size })}</Text>
        <Menu>
          <Menu.Target>
            <Button size="xs" variant="default" disabled={selected.size === 0}>
              {t('Bulk action')}
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item onClick={() => void bulk('enable')}>{t('enable')}</Menu.Item>
            <Menu.Item onClick={() => void bulk('disable')}>{t('disable')}</Menu.Item>
            <Menu.Item
              color="red"
              onClick={() => window.confirm(t('Delete the selected channels?')) && void bulk('delete')}
            >
              {t('delete')}
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      </Group>
      <ErrorAlert error={error ?? actionError} />
      {notice && (
        <Text c="green.9" size="sm" mb="xs" role="status">
          {notice}
        </Text>
      )}
      <Table.ScrollContainer minWidth={1000}>
        <Table striped highlightOnHover verticalSpacing="xs" aria-label={t('Channels')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>
                <Checkbox
                  aria-label={t('Select all on this page')}
                  checked={allOnPage}
                  onChange={() =>
                    setSelected((s) => {
                      const next = new Set(s);
                      for (const r of rows) {
                        if (allOnPage) next.delete(r.id);
                        else next.add(r.id);
                      }
                      return next;
                    })
                  }
                />
              </Table.Th>
              <Table.Th>ID</Table.Th>
              <Table.Th>{t('Name')}</Table.Th>
              <Table.Th>{t('Type')}</Table.Th>
              <Table.Th>{t('Status')}</Table.Th>
              <Table.Th>{t('Priority')}</Table.Th>
              <Table.Th>{t('Weight')}</Table.Th>
              <Table.Th>{t('Models')}</Table.Th>
              <Table.Th>{t('Health')}</Table.Th>
              <Table.Th>{t('Actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((ch) => (
              <Table.Tr key={ch.id} data-testid={`channel-row-${ch.id}`}>
                <Table.Td>
                  <Checkbox
                    aria-label={t('Select {name}', { name: ch.name })}
                    checked={selected.has(ch.id)}
                    onChange={() =>
                      setSelected((s) => {
                        const next = new Set(s);
                        if (next.has(ch.id)) next.delete(ch.id);
                        else next.add(ch.id);
                        return next;
                      })
                    }
                  />
                </Table.Td>
                <Table.Td>{ch.id}</Table.Td>
                <Table.Td>
                  <Text size="sm" fw={500}>
                    {ch.name}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {ch.base_url}
                  </Text>
                </Table.Td>
                <Table.Td>{ch.type}</Table.Td>
                <Table.Td>
                  <StatusBadge status={ch.status} />
                  {ch.status_reason && (
                    <Text size="xs" c="dimmed" maw={220}>
                      {ch.status_reason}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{ch.priority}</Table.Td>
                <Table.Td>{ch.weight}</Table.Td>
                <Table.Td>
                  <Tooltip label={ch.models.join(', ') || '—'} multiline maw={400}>
                    <Text size="sm" maw={200} truncate>
                      {ch.models.length > 0 ? ch.models.join(', ') : t('(any)')}
                    </Text>
                  </Tooltip>
                </Table.Td>
                <Table.Td>
                  <HealthCell health={ch.health} test={tests[ch.id]} />
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <RowButton onClick={() => setEditing(ch)}>{t('Edit')}</RowButton>
                    <Button
                      size="compact-xs"
                      variant="default"
                      onClick={() => void test(ch.id)}
                      loading={tests[ch.id] === 'running'}
                    >
                      {t('Test')}
                    </Button>
                    <Button
                      size="compact-xs"
                      variant="default"
                      onClick={() =>
                        void run(t('Saved'), () =>
                          patch(`/api/channels/${ch.id}`, {
                            status: ch.status === 'enabled' ? 'disabled' : 'enabled',
                          }),
                        )
                      }
                    >
                      {ch.status === 'enabled' ? t('Disable') : t('Enable')}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
            <EmptyRow show={rows.length === 0} colSpan={10}>
              {t('No channels')}
            </EmptyRow>
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Group justify="space-between" mt="sm">
        <Text size="sm">{t('{n} channels', { n: total.toLocaleString() })}</Text>
        <Group>
          <Select
            aria-label={t('Rows per page')}
            value={perPage}
            onChange={(v) => setPerPage(v ?? '20')}
            data={['20', '50', '100']}
            w={80}
            size="xs"
          />
          <Pagination
            total={pages}
            value={page}
            onChange={setPage}
            size="sm"
            getControlProps={(c) => ({ 'aria-label': String(c) })}
          />
        </Group>
      </Group>
      {editing && (
        <ChannelForm
          channel={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            setNotice(t('Saved'));
            void reload();
          }}
        />
      )}
    </>
  );
}

function HealthCell({
  health,
  test,
}: {
  health: Health | null;
  test: TestAnswer | 'running' | string | undefined;
}) {
  const t = useT();
  const shown = typeof test === 'object' ? test : health?.last_test;
  const now = Date.now();
  const troubled = (health?.models ?? []).filter(
    (m) =>
      m.breaker !== 'closed' ||
      (m.cooling_until !== null && Date.parse(m.cooling_until) > now) ||
      (m.open_until !== null && Date.parse(m.open_until) > now),
  );
  return (
    <Stack gap={2}>
      {typeof test === 'string' && test !== 'running' && (
        <Text size="xs" c="red.9">
          {test}
        </Text>
      )}
      {shown && (
        <Text size="xs" data-testid="last-test">
          <Badge size="xs" color={shown.ok ? 'green' : 'red'} variant="light">
            {shown.ok ? t('test ok') : t('test failed')}
          </Badge>{' '}
          {shown.latency_ms !== null ? `${shown.latency_ms} ms` : ''}
          {!shown.ok && shown.message ? ` · ${shown.message}` : ''}
        </Text>
      )}
      {health?.stats && health.stats.requests > 0 && (
        <Text size="xs">
          {t('{n} req / {m} min', { n: health.stats.requests, m: health.stats.window_minutes })} ·{' '}
          {t('errors {p}%', { p: (health.stats.error_rate * 100).toFixed(1) })}
          {health.stats.latency_p50_ms !== null ? ` · p50 ${health.stats.latency_p50_ms} ms` : ''}
        </Text>
      )}
      {troubled.map((m) => (
        <Text size="xs" c="orange.9" key={m.model}>
          {m.model}: {m.breaker !== 'closed' ? t('breaker {s}', { s: m.breaker }) : t('cooling')}
          {m.reason ? ` (${m.reason})` : ''}
        </Text>
      ))}
      {!shown && !health?.stats?.requests && troubled.length === 0 && (
        <Text size="xs" c="dimmed">
          —
        </Text>
      )}
    </Stack>
  );
}
