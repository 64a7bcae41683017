import { Button, Center, Paper, PasswordInput, Stack, Tabs, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { useAuth } from '../auth';
import { useI18n } from '../i18n';
import { ErrorAlert, LanguageSwitch } from '../ui';

/** Sign-in with a username and password, or with an admin access token (the root bootstrap). */
export function SignIn() {
  const { signIn } = useAuth();
  const { t } = useI18n();
  const [mode, setMode] = useState<string | null>('password');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [accessToken, setAccessToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(mode === 'token' ? { access_token: accessToken.trim() } : { username, password });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w={400} maw="100%">
        <Stack>
          <Title order={1} size="h2">
            {t('Sign in to Switchyard')}
          </Title>
          <LanguageSwitch />
          <Tabs value={mode} onChange={setMode}>
            <Tabs.List grow>
              <Tabs.Tab value="password">{t('Password')}</Tabs.Tab>
              <Tabs.Tab value="token">{t('Access token')}</Tabs.Tab>
            </Tabs.List>
          </Tabs>
          <form onSubmit={(e) => void submit(e)}>
            <Stack>
              {mode === 'token' ? (
                <PasswordInput
                  label={t('Admin access token')}
                  description={t('The ADMIN_TOKEN of the gateway, or an access token of a user')}
                  value={accessToken}
                  onChange={(e) => setAccessToken(e.currentTarget.value)}
                  required
                  autoComplete="off"
                />
              ) : (
                <>
                  <TextInput
                    label={t('Username')}
                    value={username}
                    onChange={(e) => setUsername(e.currentTarget.value)}
                    required
                    autoComplete="username"
                    data-autofocus
                  />
                  <PasswordInput
                    label={t('Password')}
                    value={password}
                    onChange={(e) => setPassword(e.currentTarget.value)}
                    required
                    autoComplete="current-password"
                  />
                </>
              )}
              <ErrorAlert error={error} />
              <Button type="submit" loading={busy}>
                {t('Sign in')}
              </Button>
            </Stack>
          </form>
        </Stack>
      </Paper>
    </Center>
  );
}
