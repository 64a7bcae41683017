import { Paper, Stack, Text, Title } from '@mantine/core';
import { get } from '../api';
import { useAuth } from '../auth';
import { Columns } from '../Columns';
import { useT } from '../i18n';
import { formatInt, formatUsd } from '../money';
import { ErrorAlert, PageTitle, useLoad } from '../ui';
import { AccessTokens, SetPassword } from './Users';

interface Me {
  id: number;
  username: string;
  role: string;
  group: string;
  quota: number | null;
  used_quota: number;
}

/** The signed-in user: balance, password, and (admins) API access tokens. */
export default function Account() {
  const t = useT();
  const { user, isAdmin } = useAuth();
  const { data, error } = useLoad(() => get<{ data: Me }>('/api/users/me'), []);
  const me = data?.data;
  return (
    <>
      <PageTitle>{t('Account')}</PageTitle>
      <ErrorAlert error={error} />
      <Columns cols={2}>
        <Paper withBorder p="md">
          <Stack gap={4}>
            <Title order={3} size="h4">
              {user!.username}
            </Title>
            <Text>
              {t('Role')}: {t(user!.role)} · {t('Group')}: {user!.group}
            </Text>
            {me && (
              <>
                <Text data-testid="my-quota">
                  {t('Quota left')}:{' '}
                  {me.quota === null
                    ? t('unlimited')
                    : `${formatUsd(me.quota)} (${formatInt(me.quota)} ${t('units')})`}
                </Text>
                <Text>
                  {t('Used')}: {formatUsd(me.used_quota)} ({formatInt(me.used_quota)} {t('units')})
                </Text>
              </>
            )}
          </Stack>
        </Paper>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {t('Change password')}
          </Title>
          <SetPassword userId={user!.id} name={user!.username} own />
        </Paper>
      </Columns>
      {isAdmin && (
        <Paper withBorder p="md" mt="md">
          <Title order={3} size="h4" mb="sm">
            {t('My admin API access tokens')}
          </Title>
          <AccessTokens user={{ id: user!.id, username: user!.username }} />
        </Paper>
      )}
    </>
  );
}
