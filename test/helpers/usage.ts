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
