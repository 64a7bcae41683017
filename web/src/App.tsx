import { Alert, Button, Center, Group, Loader, NavLink, Text } from '@mantine/core';
import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from 'react-router';
import { get } from './api';
import { useAuth } from './auth';
import { useI18n } from './i18n';
import { LanguageSwitch } from './ui';
import { SignIn } from './pages/SignIn';

// Every page is its own chunk: the first load is the shell and the sign-in page only.
const Dashboard = lazy(() => import('./pages/Dashboard'));
const Channels = lazy(() => import('./pages/Channels'));
const Tokens = lazy(() => import('./pages/Tokens'));
const Users = lazy(() => import('./pages/Users'));
const Prices = lazy(() => import('./pages/Prices'));
const Logs = lazy(() => import('./pages/Logs'));
const Cluster = lazy(() => import('./pages/Cluster'));
const Playground = lazy(() => import('./pages/Playground'));
const Account = lazy(() => import('./pages/Account'));

interface NavItem {
  path: string;
  label: string;
  admin?: boolean;
  element: ReactNode;
}

const NAV: NavItem[] = [
  { path: '/', label: 'Dashboard', element: <Dashboard /> },
  { path: '/channels', label: 'Channels', admin: true, element: <Channels /> },
  { path: '/tokens', label: 'Tokens', element: <Tokens /> },
  { path: '/users', label: 'Users', admin: true, element: <Users /> },
  { path: '/prices', label: 'Prices & groups', element: <Prices /> },
  { path: '/logs', label: 'Usage log', element: <Logs /> },
  { path: '/cluster', label: 'Cluster', admin: true, element: <Cluster /> },
  { path: '/playground', label: 'Playground', element: <Playground /> },
  { path: '/account', label: 'Account', element: <Account /> },
];

export function App() {
  const { user } = useAuth();
  if (user === undefined) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (user === null) return <SignIn />;
  return (
    <BrowserRouter>
      <Shell />
    </BrowserRouter>
  );
}

/**
 * Where this node stands: a replica takes no writes, and the console says so on every page, with
 * the master's host name and port as its heartbeat gives them.
 */
function ReplicaNotice() {
  const { t } = useI18n();
  const [replica, setReplica] = useState<{ master: string | null } | null>(null);
  useEffect(() => {
    get<{ role: string }>('/api/status')
      .then(async (s) => {
        if (s.role !== 'slave') return;
        const c = await get<{ nodes: { role: string; host?: string; port?: number }[] }>(
          '/api/cluster',
        ).catch(() => null);
        const m = c?.nodes.find((n) => n.role === 'master');
        setReplica({ master: m?.host && m.port ? `${m.host}:${m.port}` : null });
      })
      .catch(() => setReplica(null));
  }, []);
  if (!replica) return null;
  return (
    <Alert color="yellow" mb="md" title={t('Read-only replica')} data-testid="replica-notice">
      {t('This node is a replica: changes are refused here. Open the console on the master to make them.')}
      {replica.master && (
        <>
          {' '}
          {t('The master (host:port as it reports itself):')} <code>{replica.master}</code>
        </>
      )}
    </Alert>
  );
}

function Shell() {
  const { user, signOut, isAdmin } = useAuth();
  const { t } = useI18n();
  const location = useLocation();
  const items = NAV.filter((n) => !n.admin || isAdmin);
  return (
    <>
      <a href="#main" className="sy-skip">
        {t('Skip to content')}
      </a>
      <header className="sy-header">
        <Text fw={700} size="lg">
          Switchyard
        </Text>
        <Group gap="sm" wrap="nowrap">
          <LanguageSwitch />
          <Text size="sm" data-testid="whoami" className="sy-hide-narrow">
            {user!.username} · {t(user!.role)}
          </Text>
          <Button variant="default" size="xs" onClick={() => void signOut()}>
            {t('Sign out')}
          </Button>
        </Group>
      </header>
      <div className="sy-body">
        <nav className="sy-nav" aria-label={t('Main')}>
          {items.map((n) => (
            <NavLink
              key={n.path}
              component={Link}
              to={n.path}
              label={t(n.label)}
              active={location.pathname === n.path}
              aria-current={location.pathname === n.path ? 'page' : undefined}
            />
          ))}
          {isAdmin && <NavLink href="/admin/queues" label={t('Queues')} target="_blank" rel="noopener" />}
        </nav>
        <main className="sy-main" id="main" tabIndex={-1}>
          <ReplicaNotice />
          <Suspense
            fallback={
              <Center p="xl">
                <Loader aria-label={t('Loading')} />
              </Center>
            }
          >
            <Routes>
              {items.map((n) => (
                <Route key={n.path} path={n.path} element={n.element} />
              ))}
              <Route path="*" element={<Navigate to="/" replace />} />
            </Routes>
          </Suspense>
        </main>
      </div>
    </>
  );
}
