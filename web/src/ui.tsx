import { Alert, Badge, Group, SegmentedControl, Title } from '@mantine/core';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError } from './api';
import { useI18n, useT, type Lang } from './i18n';

/** Loads `fn` now and whenever `deps` change; `reload()` loads again. Stale answers are dropped. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const d = await fn();
      if (mine === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    void load();
  }, [load]);
  return { data, error, loading, reload: load, setData };
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function ErrorAlert({ error }: { error: unknown }) {
  const t = useT();
  if (!error) return null;
  return (
    <Alert color="red" title={t('Error')} role="alert" mb="sm">
      {errorText(error)}
    </Alert>
  );
}

export function PageTitle({ children, right }: { children: ReactNode; right?: ReactNode }) {
  return (
    <Group justify="space-between" mb="md">
      <Title order={2}>{children}</Title>
      {right}
    </Group>
  );
}

const statusColors: Record<string, string> = {
  enabled: 'green',
  disabled: 'gray',
  auto_disabled: 'red',
  LIVE: 'green',
  DEGRADED: 'orange',
  SYNCING: 'blue',
};

export function StatusBadge({ status }: { status: string }) {
  const t = useT();
  return (
    <Badge color={statusColors[status] ?? 'gray'} variant="light">
      {t(status)}
    </Badge>
  );
}

/** An ISO time shown in the reader's locale ("—" for none). */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <>—</>;
  const d = new Date(at);
  return <time dateTime={at}>{d.toLocaleString()}</time>;
}

/** Splits a comma/newline separated text into trimmed, non-empty items. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The English / Chinese switch (the header, and the sign-in page). */
export function LanguageSwitch() {
  const { t, lang, setLang } = useI18n();
  return (
    <SegmentedControl
      size="xs"
      aria-label={t('Language')}
      value={lang}
      onChange={(v) => setLang(v as Lang)}
      data={[
        { value: 'en', label: 'English' },
        { value: 'zh', label: '中文' },
      ]}
    />
  );
}
