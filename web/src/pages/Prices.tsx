import { Button, Group, NumberInput, Paper, Table, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { FormDialog, RateLimitInputs } from '../components/forms';
import { EditDeleteButtons } from '../components/table';
import { del, get, put } from '../api';
import { useAuth } from '../auth';
import { useT } from '../i18n';
import { ErrorAlert, PageTitle, useLoad } from '../ui';

interface Price {
  model: string;
  input: number;
  output: number;
  cached_input: number | null;
}

interface GroupRow {
  name: string;
  ratio: number;
  rpm_limit: number | null;
  tpm_limit: number | null;
}

const usd = (v: number | null) => (v === null ? '—' : `$${v}`);

/** The price catalogue (US$ per 1M tokens) and the groups (price ratio, rate limits). */
export default function Prices() {
  const t = useT();
  const { isAdmin } = useAuth();
  const prices = useLoad(() => get<{ data: Price[] }>('/api/prices'), []);
  const groups = useLoad(() => get<{ data: GroupRow[] }>('/api/groups'), []);
  const [price, setPrice] = useState<Price | 'new' | null>(null);
  const [group, setGroup] = useState<GroupRow | 'new' | null>(null);
  const [filter, setFilter] = useState('');
  const [actionError, setActionError] = useState<unknown>(null);
  const shown = (prices.data?.data ?? []).filter((p) => p.model.toLowerCase().includes(filter.toLowerCase()));

  async function remove(path: string, reload: () => Promise<void>) {
    setActionError(null);
    try {
      await del(path);
      await reload();
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <>
      <PageTitle>{t('Prices & groups')}</PageTitle>
      <ErrorAlert error={prices.error ?? groups.error ?? actionError} />
      <Paper withBorder p="md" mb="lg">
        <Group justify="space-between" mb="sm">
          <Title order={3} size="h4">
            {t('Model prices (US$ per 1M tokens)')}
          </Title>
          <Group>
            <TextInput
              aria-label={t('Filter models')}
              placeholder={t('Filter models')}
              value={filter}
              onChange={(e) => setFilter(e.currentTarget.value)}
            />
            {isAdmin && <Button onClick={() => setPrice('new')}>{t('New price')}</Button>}
          </Group>
        </Group>
        <Table striped verticalSpacing={4} aria-label={t('Model prices (US$ per 1M tokens)')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('Model')}</Table.Th>
              <Table.Th ta="right">{t('Input')}</Table.Th>
              <Table.Th ta="right">{t('Cached input')}</Table.Th>
              <Table.Th ta="right">{t('Output')}</Table.Th>
              {isAdmin && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((p) => (
              <Table.Tr key={p.model}>
                <Table.Td>{p.model}</Table.Td>
                <Table.Td ta="right">{usd(p.input)}</Table.Td>
                <Table.Td ta="right">{usd(p.cached_input)}</Table.Td>
                <Table.Td ta="right">{usd(p.output)}</Table.Td>
                {isAdmin && (
                  <Table.Td>
                    <EditDeleteButtons
                      onEdit={() => setPrice(p)}
                      confirmText={t('Delete the price of {name}?', { name: p.model })}
                      onDelete={() =>
                        void remove(`/api/prices/${encodeURIComponent(p.model)}`, prices.reload)
                      }
                    />
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
      <Paper withBorder p="md">
        <Group justify="space-between" mb="sm">
          <Title order={3} size="h4">
            {t('Groups')}
          </Title>
          {isAdmin && <Button onClick={() => setGroup('new')}>{t('New group')}</Button>}
        </Group>
        <Table striped verticalSpacing={4} aria-label={t('Groups')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('Name')}</Table.Th>
              <Table.Th ta="right">{t('Price ratio')}</Table.Th>
              <Table.Th ta="right">{t('Requests per minute')}</Table.Th>
              <Table.Th ta="right">{t('Tokens per minute')}</Table.Th>
              {isAdmin && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(groups.data?.data ?? []).map((g) => (
              <Table.Tr key={g.name}>
                <Table.Td>{g.name}</Table.Td>
                <Table.Td ta="right">×{g.ratio}</Table.Td>
                <Table.Td ta="right">{g.rpm_limit ?? '—'}</Table.Td>
                <Table.Td ta="right">{g.tpm_limit ?? '—'}</Table.Td>
                {isAdmin && (
                  <Table.Td>
                    <EditDeleteButtons
                      onEdit={() => setGroup(g)}
                      confirmText={t('Delete group {name}?', { name: g.name })}
                      onDelete={() => void remove(`/api/groups/${encodeURIComponent(g.name)}`, groups.reload)}
                    />
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Text size="xs" c="dimmed" mt="xs">
          {t('A request costs the model price × the group ratio of the token.')}
        </Text>
      </Paper>
      {price && (
        <PriceForm
          price={price === 'new' ? null : price}
          onClose={() => setPrice(null)}
          onSaved={() => {
            setPrice(null);
            void prices.reload();
          }}
        />
      )}
      {group && (
        <GroupForm
          group={group === 'new' ? null : group}
          onClose={() => setGroup(null)}
          onSaved={() => {
            setGroup(null);
            void groups.reload();
          }}
        />
      )}
    </>
  );
}

function PriceForm({ price, onClose, onSaved }: { price: Price | null; onClose(): void; onSaved(): void }) {
  const t = useT();
  const [model, setModel] = useState(price?.model ?? '');
  const [input, setInput] = useState<number | string>(price?.input ?? '');
  const [output, setOutput] = useState<number | string>(price?.output ?? '');
  const [cached, setCached] = useState<number | string>(price?.cached_input ?? '');
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await put(`/api/prices/${encodeURIComponent(model.trim())}`, {
        input: Number(input),
        output: Number(output),
        cached_input: cached === '' ? null : Number(cached),
      });
      onSaved();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <FormDialog
      title={price ? t('Price of {name}', { name: price.model }) : t('New price')}
      onClose={onClose}
      onSubmit={submit}
    >
      <TextInput
        label={t('Model')}
        value={model}
        onChange={(e) => setModel(e.currentTarget.value)}
        required
        disabled={!!price}
      />
      <NumberInput
        label={t('Input (US$ per 1M tokens)')}
        value={input}
        onChange={setInput}
        min={0}
        decimalScale={6}
        required
      />
      <NumberInput
        label={t('Cached input (US$ per 1M tokens)')}
        description={t('Empty: the input price')}
        value={cached}
        onChange={setCached}
        min={0}
        decimalScale={6}
      />
      <NumberInput
        label={t('Output (US$ per 1M tokens)')}
        value={output}
        onChange={setOutput}
        min={0}
        decimalScale={6}
        required
      />
      <ErrorAlert error={error} />
      <Button type="submit">{t('Save')}</Button>
    </FormDialog>
  );
}

function GroupForm({
  group,
  onClose,
  onSaved,
}: {
  group: GroupRow | null;
  onClose(): void;
  onSaved(): void;
}) {
  const t = useT();
  const [name, setName] = useState(group?.name ?? '');
  const [ratio, setRatio] = useState<number | string>(group?.ratio ?? 1);
  const [rpm, setRpm] = useState<number | string>(group?.rpm_limit ?? '');
  const [tpm, setTpm] = useState<number | string>(group?.tpm_limit ?? '');
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await put(`/api/groups/${encodeURIComponent(name.trim())}`, {
        ratio: Number(ratio),
        rpm_limit: rpm === '' ? null : Number(rpm),
        tpm_limit: tpm === '' ? null : Number(tpm),
      });
      onSaved();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <FormDialog
      title={group ? t('Group {name}', { name: group.name }) : t('New group')}
      onClose={onClose}
      onSubmit={submit}
    >
      <TextInput
        label={t('Name')}
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        required
        disabled={!!group}
      />
      <NumberInput
        label={t('Price ratio')}
        value={ratio}
        onChange={setRatio}
        min={0}
        decimalScale={4}
        required
      />
      <RateLimitInputs rpm={rpm} onRpm={setRpm} tpm={tpm} onTpm={setTpm} stacked />
      <ErrorAlert error={error} />
      <Button type="submit">{t('Save')}</Button>
    </FormDialog>
  );
}
