import {
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  NumberInput,
  Select,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useState, type FormEvent } from 'react';
import { FormButtons, RateLimitInputs } from '../components/forms';
import { EmptyRow, HeaderRow, PagedFooter, RowButton } from '../components/table';
import { del, get, patch, post, type Page } from '../api';
import { useAuth } from '../auth';
import { Columns } from '../Columns';
import { useT } from '../i18n';
import { formatInt, formatUsd, usdToUnits } from '../money';
import { rememberKey } from '../recentKeys';
import { ErrorAlert, PageTitle, StatusBadge, Time, useLoad } from '../ui';

interface Token {
  id: number;
  name: string;
  user_id: number;
  group: string;
  status: string;
  quota: number | null;
  used_quota: number;
  expires_at: string | null;
  models: string[] | null;
  subnets: string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  key_prefix: string;
  accessed_at: string | null;
}

export default function Tokens() {
  const t = useT();
  const { isAdmin } = useAuth();
  const [page, setPage] = useState(1);
  const [q, setQ] = useState('');
  const [dq] = useDebouncedValue(q, 300);
  const [status, setStatus] = useState<string | null>(null);
  const [userId, setUserId] = useState<number | string>('');
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Token | null>(null);
  const [topUp, setTopUp] = useState<Token | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const perPage = 20;
  useEffect(() => setPage(1), [dq, status, userId]);
  const { data, error, reload } = useLoad(
    () =>
      get<Page<Token>>('/api/tokens', {
        page,
        per_page: perPage,
        q: dq,
        status: status ?? undefined,
        user_id: userId === '' ? undefined : Number(userId),
      }),
    [page, dq, status, userId],
  );
  const rows = data?.data ?? [];
  const pages = Math.max(1, Math.ceil((data?.total ?? 0) / perPage));

  async function act(fn: () => Promise<unknown>) {
    setActionError(null);
    try {
      await fn();
      await reload();
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <>
      <PageTitle right={<Button onClick={() => setCreating(true)}>{t('New token')}</Button>}>
        {t('Tokens')}
      </PageTitle>
      <Group mb="sm" align="end">
        <TextInput label={t('Search')} value={q} onChange={(e) => setQ(e.currentTarget.value)} />
        <Select
          label={t('Status')}
          clearable
          value={status}
          onChange={setStatus}
          data={['enabled', 'disabled'].map((s) => ({ value: s, label: t(s) }))}
          w={150}
        />
        {isAdmin && <NumberInput label={t('User ID')} value={userId} onChange={setUserId} min={1} w={120} />}
      </Group>
      <ErrorAlert error={error ?? actionError} />
      <Table.ScrollContainer minWidth={900}>
        <Table striped verticalSpacing="xs" aria-label={t('Tokens')}>
          <HeaderRow
            columns={[
              'ID',
              t('Name'),
              t('Key'),
              isAdmin && t('User'),
              t('Status'),
              t('Quota left'),
              t('Used'),
              t('Expires'),
              t('Models'),
              t('Actions'),
            ]}
          />
          <Table.Tbody>
            {rows.map((tk) => (
              <Table.Tr key={tk.id} data-testid={`token-row-${tk.id}`}>
                <Table.Td>{tk.id}</Table.Td>
                <Table.Td>{tk.name}</Table.Td>
                <Table.Td>
                  <Code>{tk.key_prefix}…</Code>
                </Table.Td>
                {isAdmin && <Table.Td>{tk.user_id}</Table.Td>}
                <Table.Td>
                  <StatusBadge status={tk.status} />
                </Table.Td>
                <Table.Td title={tk.quota === null ? undefined : `${formatInt(tk.quota)} ${t('units')}`}>
                  {tk.quota === null ? t('unlimited') : formatUsd(tk.quota)}
                </Table.Td>
                <Table.Td title={`${formatInt(tk.used_quota)} ${t('units')}`}>
                  {formatUsd(tk.used_quota)}
                </Table.Td>
                <Table.Td>{tk.expires_at ? <Time at={tk.expires_at} /> : t('never')}</Table.Td>
                <Table.Td>
                  <Text size="sm" maw={180} truncate>
                    {tk.models?.join(', ') ?? t('(any)')}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <RowButton onClick={() => setEditing(tk)}>{t('Edit')}</RowButton>
                    <RowButton onClick={() => setTopUp(tk)}>{t('Top up')}</RowButton>
                    <Button
                      size="compact-xs"
                      variant="default"
                      onClick={() =>
                        void act(() =>
                          patch(`/api/tokens/${tk.id}`, {
                            status: tk.status === 'enabled' ? 'disabled' : 'enabled',
                          }),
                        )
                      }
                    >
                      {tk.status === 'enabled' ? t('Disable') : t('Enable')}
                    </Button>
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      onClick={() =>
                        window.confirm(t('Delete token {name}?', { name: tk.name })) &&
                        void act(() => del(`/api/tokens/${tk.id}`))
                      }
                    >
                      {t('Delete')}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
            <EmptyRow show={rows.length === 0} colSpan={10}>
              {t('No tokens')}
            </EmptyRow>
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <PagedFooter
        summary={t('{n} tokens', { n: data?.total ?? 0 })}
        pages={pages}
        page={page}
        onPage={setPage}
      />
      {(creating || editing) && (
        <TokenForm
          token={editing}
          isAdmin={isAdmin}
          onClose={() => {
            setCreating(false);
            setEditing(null);
          }}
          onSaved={(key) => {
            setCreating(false);
            setEditing(null);
            if (key) {
              rememberKey(key);
              setCreated(key);
            }
            void reload();
          }}
        />
      )}
      {topUp && (
        <TopUp
          path={`/api/tokens/${topUp.id}/quota`}
          name={topUp.name}
          onClose={() => setTopUp(null)}
          onDone={() => {
            setTopUp(null);
            void reload();
          }}
        />
      )}
      {created && (
        <Modal opened onClose={() => setCreated(null)} title={t('Token created')} size="lg">
          <Stack>
            <Alert color="yellow" title={t('Copy the key now')}>
              {t(
                'This is the only time the key is shown. Store it somewhere safe; it cannot be shown again.',
              )}
            </Alert>
            <Code block data-testid="new-token-key">
              {created.key}
            </Code>
            <Group justify="space-between">
              <CopyButton value={created.key}>
                {({ copied, copy }) => (
                  <Button color={copied ? 'teal' : undefined} onClick={copy} data-testid="copy-key">
                    {copied ? t('Copied') : t('Copy key')}
                  </Button>
                )}
              </CopyButton>
              <Button variant="default" onClick={() => setCreated(null)}>
                {t('Done')}
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
    </>
  );
}

/** Adds (or, negative, removes) quota given in dollars; the API takes whole quota units. */
export function TopUp({
  path,
  name,
  onClose,
  onDone,
}: {
  path: string;
  name: string;
  onClose(): void;
  onDone(): void;
}) {
  const t = useT();
  const [usd, setUsd] = useState<number | string>(5);
  const [note, setNote] = useState('');
  const [error, setError] = useState<unknown>(null);
  const units = usdToUnits(Number(usd) || 0);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await post(path, { delta: units, ...(note.trim() ? { note: note.trim() } : {}) });
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <Modal opened onClose={onClose} title={t('Top up {name}', { name })}>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <NumberInput
            label={t('Amount (US$)')}
            description={t('= {units} quota units; negative to correct', { units: formatInt(units) })}
            value={usd}
            onChange={setUsd}
            decimalScale={6}
            required
          />
          <TextInput label={t('Note')} value={note} onChange={(e) => setNote(e.currentTarget.value)} />
          <ErrorAlert error={error} />
          <Button type="submit" disabled={units === 0}>
            {t('Apply')}
          </Button>
        </Stack>
      </form>
    </Modal>
  );
}

function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function TokenForm({
  token,
  isAdmin,
  onClose,
  onSaved,
}: {
  token: Token | null;
  isAdmin: boolean;
  onClose(): void;
  onSaved(created: { name: string; key: string } | null): void;
}) {
  const t = useT();
  const [name, setName] = useState(token?.name ?? '');
  const [quotaUsd, setQuotaUsd] = useState<number | string>(
    token?.quota === null || !token ? '' : token.quota / 500_000,
  );
  const [expires, setExpires] = useState(toLocalInput(token?.expires_at ?? null));
  const [models, setModels] = useState<string[]>(token?.models ?? []);
  const [subnets, setSubnets] = useState<string[]>(token?.subnets ?? []);
  const [rpm, setRpm] = useState<number | string>(token?.rpm_limit ?? '');
  const [tpm, setTpm] = useState<number | string>(token?.tpm_limit ?? '');
  const [userId, setUserId] = useState<number | string>(token?.user_id ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const units = quotaUsd === '' ? null : usdToUnits(Number(quotaUsd));

  async function submit(e: FormEvent) {
    e.preventDefault();
    const body: Record<string, unknown> = {
      name: name.trim(),
      quota: units,
      expires_at: expires ? new Date(expires).toISOString() : null,
      models: models.length > 0 ? models : null,
      subnets: subnets.length > 0 ? subnets : null,
      rpm_limit: rpm === '' ? null : Number(rpm),
      tpm_limit: tpm === '' ? null : Number(tpm),
    };
    if (isAdmin && userId !== '' && !token) body.user_id = Number(userId);
    setBusy(true);
    setError(null);
    try {
      if (token) {
        await patch(`/api/tokens/${token.id}`, body);
        onSaved(null);
      } else {
        const r = await post<{ data: Token & { key: string } }>('/api/tokens', body);
        onSaved({ name: r.data.name, key: r.data.key });
      }
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
      title={token ? t('Edit token {name}', { name: token.name }) : t('New token')}
      size="lg"
    >
      <form onSubmit={(e) => void submit(e)}>
        <Stack gap="sm">
          <TextInput
            label={t('Name')}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
          />
          <Columns cols={2}>
            <NumberInput
              label={t('Quota (US$)')}
              description={
                units === null
                  ? t('Empty: unlimited')
                  : t('= {units} quota units', { units: formatInt(units) })
              }
              value={quotaUsd}
              onChange={setQuotaUsd}
              min={0}
              decimalScale={6}
            />
            <TextInput
              type="datetime-local"
              label={t('Expires')}
              description={t('Empty: never')}
              value={expires}
              onChange={(e) => setExpires(e.currentTarget.value)}
            />
          </Columns>
          <TagsInput
            label={t('Models')}
            description={t('Empty: every model')}
            value={models}
            onChange={setModels}
          />
          <TagsInput
            label={t('Subnets')}
            description={t('Client IPs or CIDRs allowed, e.g. 10.0.0.0/8. Empty: any')}
            value={subnets}
            onChange={setSubnets}
          />
          <RateLimitInputs rpm={rpm} onRpm={setRpm} tpm={tpm} onTpm={setTpm} />
          {isAdmin && !token && (
            <NumberInput
              label={t('For user ID')}
              description={t('Empty: yourself')}
              value={userId}
              onChange={setUserId}
              min={1}
              allowDecimal={false}
            />
          )}
          <ErrorAlert error={error} />
          <FormButtons onCancel={onClose} submit={token ? t('Save') : t('Create')} busy={busy} />
        </Stack>
      </form>
    </Modal>
  );
}
