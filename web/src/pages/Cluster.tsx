import { Anchor, Badge, Group, Paper, Switch, Table, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { HeaderRow } from '../components/table';
import { get } from '../api';
import { useT } from '../i18n';
import { ErrorAlert, PageTitle, StatusBadge, Time, useLoad } from '../ui';

interface ClusterNode {
  node_id: string;
  role: string;
  state: string;
  epoch: string | null;
  version: number;
  lag_versions: number | null;
  last_sync_at: string | null;
  pubsub_connected: boolean | null;
  redis_connected?: boolean | null;
  heartbeat_at?: string | null;
  started_at: string | null;
  host?: string;
  port?: number;
  pid?: number;
  routing_digest?: string | null;
  routing_channels?: number;
}

interface ClusterAnswer {
  db_version: number | null;
  epoch: string | null;
  nodes: ClusterNode[];
}

interface Change {
  version: number;
  kind: string;
  entity_id: string | number | null;
  op: string;
  at: string;
}

const Flag = ({ on, label }: { on: boolean | null | undefined; label: string }) =>
  on === null || on === undefined ? (
    <Text size="sm" c="dimmed">
      —
    </Text>
  ) : (
    <Badge
      color={on ? 'green' : 'red'}
      variant="light"
      aria-label={`${label}: ${on ? 'connected' : 'disconnected'}`}
    >
      {on ? '✓' : '✗'}
    </Badge>
  );

/** Every node's view of the configuration, refreshed every 2 s, and the latest config changes. */
export default function Cluster() {
  const t = useT();
  const [live, setLive] = useState(true);
  const cluster = useLoad(() => get<ClusterAnswer>('/api/cluster'), []);
  const changes = useLoad(() => get<{ data: Change[] }>('/api/cluster/changes', { limit: 20 }), []);
  const { reload: reloadCluster } = cluster;
  const { reload: reloadChanges } = changes;
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      void reloadCluster();
      void reloadChanges();
    }, 2000);
    return () => clearInterval(timer);
  }, [live, reloadCluster, reloadChanges]);

  const nodes = cluster.data?.nodes ?? [];
  const digests = new Set(nodes.map((n) => n.routing_digest).filter((d): d is string => !!d));
  return (
    <>
      <PageTitle
        right={
          <Group>
            <Switch
              label={t('Refreshing every 2 s')}
              checked={live}
              onChange={(e) => setLive(e.currentTarget.checked)}
            />
            <Anchor href="/admin/queues" target="_blank" rel="noopener">
              {t('Queue dashboard')}
            </Anchor>
          </Group>
        }
      >
        {t('Cluster')}
      </PageTitle>
      <ErrorAlert error={cluster.error} />
      <Text mb="sm" data-testid="db-version">
        {t('Database config version')}: <b>{cluster.data?.db_version ?? '—'}</b> · {t('epoch')}{' '}
        {cluster.data?.epoch ?? '—'}
        {nodes.length > 1 && digests.size > 0 && (
          <>
            {' '}
            ·{' '}
            {digests.size === 1 ? (
              <Badge color="green" variant="light">
                {t('routing digests equal')}
              </Badge>
            ) : (
              <Badge color="red" variant="light">
                {t('routing digests differ')}
              </Badge>
            )}
          </>
        )}
      </Text>
      <Table.ScrollContainer minWidth={1000}>
        <Table striped verticalSpacing="xs" aria-label={t('Nodes')}>
          <HeaderRow
            columns={[
              t('Node'),
              t('Role'),
              t('State'),
              t('Applied version'),
              t('Lag'),
              t('Pub/sub'),
              'Redis',
              t('Heartbeat'),
              t('Routing digest'),
            ]}
          />
          <Table.Tbody>
            {nodes.map((n) => (
              <Table.Tr
                key={n.node_id}
                data-testid="cluster-node"
                data-role={n.role}
                data-version={n.version}
              >
                <Table.Td>
                  <Text size="sm" fw={500}>
                    {n.node_id}
                  </Text>
                  {n.host && (
                    <Text size="xs" c="dimmed">
                      {n.host}:{n.port} · pid {n.pid}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{t(n.role)}</Table.Td>
                <Table.Td>
                  <StatusBadge status={n.state} />
                </Table.Td>
                <Table.Td data-testid="node-version">
                  {n.version} / {cluster.data?.db_version ?? '—'}
                </Table.Td>
                <Table.Td>
                  {n.lag_versions === null ? (
                    '—'
                  ) : n.lag_versions === 0 ? (
                    <Badge color="green" variant="light">
                      0
                    </Badge>
                  ) : (
                    <Badge color="orange" variant="light">
                      {n.lag_versions}
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>
                  <Flag on={n.pubsub_connected} label={t('Pub/sub')} />
                </Table.Td>
                <Table.Td>
                  <Flag on={n.redis_connected} label="Redis" />
                </Table.Td>
                <Table.Td>
                  <Time at={n.heartbeat_at ?? n.last_sync_at} />
                </Table.Td>
                <Table.Td>
                  <Text size="xs" ff="monospace">
                    {n.routing_digest ? n.routing_digest.slice(0, 12) : '—'}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Paper withBorder p="md" mt="lg">
        <Title order={3} size="h4" mb="sm">
          {t('Recent config changes')}
        </Title>
        <ErrorAlert error={changes.error} />
        <Table verticalSpacing={4} aria-label={t('Recent config changes')}>
          <HeaderRow columns={[t('Version'), t('Entity'), t('Operation'), t('Time')]} />
          <Table.Tbody>
            {(changes.data?.data ?? []).map((c) => (
              <Table.Tr key={`${c.version}-${c.kind}-${c.entity_id ?? ''}`} data-testid="config-change">
                <Table.Td>{c.version}</Table.Td>
                <Table.Td>
                  {c.kind}
                  {c.entity_id !== null ? ` ${c.entity_id}` : ''}
                </Table.Td>
                <Table.Td>{c.op}</Table.Td>
                <Table.Td>
                  <Time at={c.at} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
    </>
  );
}
