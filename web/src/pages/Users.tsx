import {
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useState, type FormEvent } from 'react';
import { FormButtons, FormDialog, RateLimitInputs } from '../components/forms';
import { HeaderRow, PagedFooter, RowButton } from '../components/table';
import { del, get, patch, post, put, setCsrfToken, type Page } from '../api';
import { useAuth } from '../auth';
import { Columns } from '../Columns';
import { useT } from '../i18n';
import { formatInt, formatUsd, usdToUnits } from '../money';
import { ErrorAlert, PageTitle, StatusBadge, Time, useLoad } from '../ui';
import { TopUp } from './Tokens';

interface UserRow {
  id: number;
  username: string;
  role: 'root' | 'admin' | 'user';
  group: string;
  quota: number | null;
  used_quota: number;
  status: string;
  rpm_limit: number | null;
  tpm_limit: number | null;
  created_at: string;
}

export default function Users() {
  const t = useT();
  const [page, setPage] = useState(1);
  const [q, setQ] = useState('');
  const [dq] = useDebouncedValue(q, 300);
  const [role, setRole] = useState<string | null>(null);
  const [editing, setEditing] = useState<UserRow | 'new' | null>(null);
  const [password, setPassword] = useState<UserRow | null>(null);
  const [topUp, setTopUp] = useState<UserRow | null>(null);
  const [tokens, setTokens] = useState<UserRow | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const perPage = 20;
  useEffect(() => setPage(1), [dq, role]);
  const { data, error, reload } = useLoad(
    () => get<Page<UserRow>>('/api/users', { page, per_page: perPage, q: dq, role: role ?? undefined }),
    [page, dq, role],
  );
  const rows = data?.data ?? [];
  return (
    <>
      <PageTitle right={<Button onClick={() => setEditing('new')}>{t('New user')}</Button>}>
        {t('Users')}
      </PageTitle>
      <Group mb="sm" align="end">
        <TextInput label={t('Search')} value={q} onChange={(e) => setQ(e.currentTarget.value)} />
        <Select
          label={t('Role')}
          clearable
          value={role}
          onChange={setRole}
          data={['root', 'admin', 'user'].map((r) => ({ value: r, label: t(r) }))}
          w={140}
        />
      </Group>
      <ErrorAlert error={error ?? actionError} />
      <Table.ScrollContainer minWidth={900}>
        <Table striped verticalSpacing="xs" aria-label={t('Users')}>
          <HeaderRow
            columns={[
              'ID',
              t('Username'),
              t('Role'),
              t('Group'),
              t('Status'),
              t('Quota left'),
              t('Used'),
              t('Created'),
              t('Actions'),
            ]}
          />
          <Table.Tbody>
            {rows.map((u) => (
              <Table.Tr key={u.id}>
                <Table.Td>{u.id}</Table.Td>
                <Table.Td>{u.username}</Table.Td>
                <Table.Td>{t(u.role)}</Table.Td>
                <Table.Td>{u.group}</Table.Td>
                <Table.Td>
                  <StatusBadge status={u.status} />
                </Table.Td>
                <Table.Td>{u.quota === null ? t('unlimited') : formatUsd(u.quota)}</Table.Td>
                <Table.Td>{formatUsd(u.used_quota)}</Table.Td>
                <Table.Td>
                  <Time at={u.created_at} />
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <RowButton onClick={() => setEditing(u)}>{t('Edit')}</RowButton>
                    <RowButton onClick={() => setPassword(u)}>{t('Password')}</RowButton>
                    <RowButton onClick={() => setTopUp(u)}>{t('Top up')}</RowButton>
                    <RowButton onClick={() => setTokens(u)}>{t('Access tokens')}</RowButton>
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      onClick={async () => {
                        if (!window.confirm(t('Delete user {name}?', { name: u.username }))) return;
                        setActionError(null);
                        try {
                          await del(`/api/users/${u.id}`);
                          await reload();
                        } catch (err) {
                          setActionError(err);
                        }
                      }}
                    >
                      {t('Delete')}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <PagedFooter
        summary={t('{n} users', { n: data?.total ?? 0 })}
        pages={Math.max(1, Math.ceil((data?.total ?? 0) / perPage))}
        page={page}
        onPage={setPage}
      />
      {editing && (
        <UserForm
          user={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void reload();
          }}
        />
      )}
      {password && (
        <SetPassword userId={password.id} name={password.username} onClose={() => setPassword(null)} />
      )}
      {topUp && (
        <TopUp
          path={`/api/users/${topUp.id}/quota`}
          name={topUp.username}
          onClose={() => setTopUp(null)}
          onDone={() => {
            setTopUp(null);
            void reload();
          }}
        />
      )}
      {tokens && <AccessTokens user={tokens} onClose={() => setTokens(null)} />}
    </>
  );
}

function UserForm({ user, onClose, onSaved }: { user: UserRow | null; onClose(): void; onSaved(): void }) {
  const t = useT();
  const { user: me } = useAuth();
  const [username, setUsername] = useState(user?.username ?? '');
  const [role, setRole] = useState<string>(user?.role ?? 'user');
  const [group, setGroup] = useState(user?.group ?? 'default');
  const [status, setStatus] = useState<string>(user?.status ?? 'enabled');
  const [quotaUsd, setQuotaUsd] = useState<number | string>(user?.quota == null ? '' : user.quota / 500_000);
  const [rpm, setRpm] = useState<number | string>(user?.rpm_limit ?? '');
  const [tpm, setTpm] = useState<number | string>(user?.tpm_limit ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const roles = me?.role === 'root' ? ['user', 'admin', 'root'] : ['user'];
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const body = {
      username: username.trim(),
      role,
      group: group.trim(),
      status,
      quota: quotaUsd === '' ? null : usdToUnits(Number(quotaUsd)),
      rpm_limit: rpm === '' ? null : Number(rpm),
      tpm_limit: tpm === '' ? null : Number(tpm),
    };
    try {
      if (user) await patch(`/api/users/${user.id}`, body);
      else await post('/api/users', password ? { ...body, password } : body);
      onSaved();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <FormDialog
      title={user ? t('Edit user {name}', { name: user.username }) : t('New user')}
      onClose={onClose}
      onSubmit={submit}
    >
      <TextInput
        label={t('Username')}
        value={username}
        onChange={(e) => setUsername(e.currentTarget.value)}
        required
      />
      <Columns cols={2}>
        <Select
          label={t('Role')}
          value={role}
          onChange={(v) => v && setRole(v)}
          data={roles.map((r) => ({ value: r, label: t(r) }))}
          allowDeselect={false}
        />
        <Select
          label={t('Status')}
          value={status}
          onChange={(v) => v && setStatus(v)}
          data={['enabled', 'disabled'].map((s) => ({ value: s, label: t(s) }))}
          allowDeselect={false}
        />
      </Columns>
      <TextInput
        label={t('Group')}
        value={group}
        onChange={(e) => setGroup(e.currentTarget.value)}
        required
      />
      <NumberInput
        label={t('Quota (US$)')}
        description={
          quotaUsd === ''
            ? t('Empty: unlimited')
            : t('= {units} quota units', { units: formatInt(usdToUnits(Number(quotaUsd))) })
        }
        value={quotaUsd}
        onChange={setQuotaUsd}
        min={0}
        decimalScale={6}
      />
      <RateLimitInputs rpm={rpm} onRpm={setRpm} tpm={tpm} onTpm={setTpm} />
      {!user && (
        <PasswordInput
          label={t('Password')}
          description={t('Optional: lets the user sign in to the console')}
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          autoComplete="new-password"
        />
      )}
      <ErrorAlert error={error} />
      <FormButtons onCancel={onClose} submit={t('Save')} />
    </FormDialog>
  );
}

/** Sets a password; `own` asks for the current one too. */
export function SetPassword({
  userId,
  name,
  onClose,
  own,
}: {
  userId: number;
  name: string;
  onClose?(): void;
  own?: boolean;
}) {
  const t = useT();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setDone(false);
    if (password !== repeat) {
      setError(new Error(t('The two passwords differ')));
      return;
    }
    try {
      const r = await put<{ csrf_token: string | null }>(
        `/api/users/${userId}/password`,
        own ? { password, current_password: current } : { password },
      );
      // Changing one's own password ends every session and opens a new one for this browser.
      if (r.csrf_token) setCsrfToken(r.csrf_token);
      setDone(true);
      setCurrent('');
      setPassword('');
      setRepeat('');
    } catch (err) {
      setError(err);
    }
  }
  const form = (
    <form onSubmit={(e) => void submit(e)}>
      <Stack gap="sm">
        {own && (
          <PasswordInput
            label={t('Current password')}
            value={current}
            onChange={(e) => setCurrent(e.currentTarget.value)}
            autoComplete="current-password"
          />
        )}
        <PasswordInput
          label={t('New password')}
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          required
          autoComplete="new-password"
        />
        <PasswordInput
          label={t('Repeat the new password')}
          value={repeat}
          onChange={(e) => setRepeat(e.currentTarget.value)}
          required
          autoComplete="new-password"
        />
        <ErrorAlert error={error} />
        {done && (
          <Alert color="green" role="status">
            {t('Password changed. Other sessions of this user are signed out.')}
          </Alert>
        )}
        <Button type="submit">{t('Set password')}</Button>
      </Stack>
    </form>
  );
  if (!onClose) return form;
  return (
    <Modal opened onClose={onClose} title={t('Password of {name}', { name })}>
      {form}
    </Modal>
  );
}

interface AccessToken {
  id: number;
  name: string;
  token_prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export function AccessTokens({
  user,
  onClose,
}: {
  user: { id: number; username: string };
  onClose?(): void;
}) {
  const t = useT();
  const { data, error, reload } = useLoad(
    () => get<{ data: AccessToken[] }>(`/api/users/${user.id}/access-tokens`),
    [user.id],
  );
  const [name, setName] = useState('console');
  /** The token just created, shown once (until it is revoked). */
  const [created, setCreated] = useState<{ id: number; token: string } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  async function create(e: FormEvent) {
    e.preventDefault();
    setActionError(null);
    try {
      const r = await post<{ data: { id: number; token: string } }>(`/api/users/${user.id}/access-tokens`, {
        name,
      });
      setCreated({ id: r.data.id, token: r.data.token });
      await reload();
    } catch (err) {
      setActionError(err);
    }
  }
  const body = (
    <Stack>
      <ErrorAlert error={error ?? actionError} />
      {created && (
        <Alert color="yellow" title={t('Copy the token now')}>
          <Stack gap="xs">
            <Text size="sm">{t('This is the only time the token is shown.')}</Text>
            <Code block>{created.token}</Code>
            <CopyButton value={created.token}>
              {({ copied, copy }) => (
                <Button size="xs" onClick={copy}>
                  {copied ? t('Copied') : t('Copy')}
                </Button>
              )}
            </CopyButton>
          </Stack>
        </Alert>
      )}
      <Table verticalSpacing={4} aria-label={t('Access tokens')}>
        <HeaderRow columns={[t('Name'), t('Prefix'), t('Last used'), '']} />
        <Table.Tbody>
          {(data?.data ?? []).map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td>{a.name}</Table.Td>
              <Table.Td>
                <Code>{a.token_prefix}…</Code>
              </Table.Td>
              <Table.Td>
                <Time at={a.last_used_at} />
              </Table.Td>
              <Table.Td>
                <Button
                  size="compact-xs"
                  color="red"
                  variant="subtle"
                  onClick={async () => {
                    try {
                      await del(`/api/users/${user.id}/access-tokens/${a.id}`);
                      if (created?.id === a.id) setCreated(null);
                      await reload();
                    } catch (err) {
                      setActionError(err);
                    }
                  }}
                >
                  {t('Revoke')}
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <form onSubmit={(e) => void create(e)}>
        <Group align="end">
          <TextInput
            label={t('Name')}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
          />
          <Button type="submit">{t('New access token')}</Button>
        </Group>
      </form>
    </Stack>
  );
  if (!onClose) return body;
  return (
    <Modal opened onClose={onClose} size="lg" title={t('Access tokens of {name}', { name: user.username })}>
      {body}
    </Modal>
  );
}
