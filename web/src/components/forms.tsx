import { Button, Group, Modal, NumberInput, Stack } from '@mantine/core';
import type { FormEvent, ReactNode } from 'react';
import { Columns } from '../Columns';
import { useT } from '../i18n';

type NumberValue = number | string;

/** The requests- and tokens-per-minute limits (empty: no limit), side by side unless `stacked`. */
export function RateLimitInputs({
  rpm,
  onRpm,
  tpm,
  onTpm,
  stacked = false,
}: {
  rpm: NumberValue;
  onRpm(value: NumberValue): void;
  tpm: NumberValue;
  onTpm(value: NumberValue): void;
  stacked?: boolean;
}) {
  const t = useT();
  const inputs = (
    <>
      <NumberInput
        label={t('Requests per minute')}
        value={rpm}
        onChange={onRpm}
        min={1}
        allowDecimal={false}
      />
      <NumberInput label={t('Tokens per minute')} value={tpm} onChange={onTpm} min={1} allowDecimal={false} />
    </>
  );
  return stacked ? inputs : <Columns cols={2}>{inputs}</Columns>;
}

/** A dialog form's Cancel and submit buttons, on the right. */
export function FormButtons({
  onCancel,
  submit,
  busy,
}: {
  onCancel(): void;
  submit: ReactNode;
  busy?: boolean;
}) {
  const t = useT();
  return (
    <Group justify="flex-end">
      <Button variant="default" onClick={onCancel}>
        {t('Cancel')}
      </Button>
      <Button type="submit" loading={busy}>
        {submit}
      </Button>
    </Group>
  );
}

/** A dialog holding one form: its fields stacked, `onSubmit` called on submit. */
export function FormDialog({
  title,
  onClose,
  onSubmit,
  children,
}: {
  title: ReactNode;
  onClose(): void;
  onSubmit(e: FormEvent): Promise<void>;
  children: ReactNode;
}) {
  return (
    <Modal opened onClose={onClose} title={title}>
      <form onSubmit={(e) => void onSubmit(e)}>
        <Stack gap="sm">{children}</Stack>
      </form>
    </Modal>
  );
}
