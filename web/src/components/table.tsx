import { Button, Group, Pagination, Table, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { useT } from '../i18n';

/**
 * A table's header row: one plain header cell per column; a column that is `false` or `undefined`
 * (e.g. `isAdmin && t('User')`) is left out, and `''` is an empty header cell.
 */
export function HeaderRow({ columns }: { columns: ReactNode[] }) {
  return (
    <Table.Thead>
      <Table.Tr>
        {columns.map((c, i) => (c === false || c === undefined ? null : <Table.Th key={i}>{c}</Table.Th>))}
      </Table.Tr>
    </Table.Thead>
  );
}

/** The one row a list table shows when it has nothing to list. */
export function EmptyRow({
  show,
  colSpan,
  children,
}: {
  show: boolean;
  colSpan: number;
  children: ReactNode;
}) {
  if (!show) return null;
  return (
    <Table.Tr>
      <Table.Td colSpan={colSpan}>
        <Text c="dimmed" ta="center">
          {children}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

/** Under a paged table: how many rows there are on the left, the page picker on the right. */
export function PagedFooter({
  summary,
  pages,
  page,
  onPage,
}: {
  summary: ReactNode;
  pages: number;
  page: number;
  onPage(page: number): void;
}) {
  return (
    <Group justify="space-between" mt="sm">
      <Text size="sm">{summary}</Text>
      <Pagination total={pages} value={page} onChange={onPage} size="sm" />
    </Group>
  );
}

/** A small button in a table row's actions. */
export function RowButton({ onClick, children }: { onClick(): void; children: ReactNode }) {
  return (
    <Button size="compact-xs" variant="default" onClick={onClick}>
      {children}
    </Button>
  );
}

/** A row's Edit and Delete buttons; Delete asks `confirmText` first. */
export function EditDeleteButtons({
  onEdit,
  confirmText,
  onDelete,
}: {
  onEdit(): void;
  confirmText: string;
  onDelete(): void;
}) {
  const t = useT();
  return (
    <Group gap={4} justify="flex-end" wrap="nowrap">
      <RowButton onClick={onEdit}>{t('Edit')}</RowButton>
      <Button
        size="compact-xs"
        variant="subtle"
        color="red"
        onClick={() => window.confirm(confirmText) && onDelete()}
      >
        {t('Delete')}
      </Button>
    </Group>
  );
}
