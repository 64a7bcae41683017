import type { Db } from '../../lib/db/knex.js';
import { UsageLogRepository, type UsageRecord } from '../../lib/db/repositories/usage-log.repository.js';
import type { TestGateway } from './gateway.js';
import { waitFor } from './wait.js';

/**
 * The usage log rows (`type=consume`) of a token, newest first, once at least `n` are written
 * (rows are written after the answer, so this waits, at most `timeoutMs`).
 */
export async function usageRows(
  gw: TestGateway,
  tokenId: number,
  n: number,
  timeoutMs = 3000,
): Promise<any[]> {
  let rows: any[] = [];
  await waitFor(
    async () => {
      rows = (await gw.admin('GET', `/api/logs?token_id=${tokenId}&type=consume`)).body.data;
      return rows.length >= n;
    },
    timeoutMs,
    `${n} usage rows`,
  );
  return rows;
}

/** Writes usage rows as the gateway does (with the hourly roll-up the dashboard reads), in one transaction. */
export async function logUsage(db: Db, rows: UsageRecord[]): Promise<void> {
  const repo = new UsageLogRepository(db);
  await db.transaction((trx) => repo.insertMany(trx, rows));
}
