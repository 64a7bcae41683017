import { num } from '../json-column.js';
import type { Trx } from '../knex.js';

/** The answer kept for an Idempotency-Key. */
export interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: string;
  expiresAt: number;
}

/**
 * The only code that queries `idempotency_keys`. Always inside the transaction of the write the
 * key guards, so the key and the write commit (or roll back) together.
 */
export class IdempotencyKeyRepository {
  /** The kept answer of (actor, key). */
  async find(trx: Trx, actor: string, key: string): Promise<StoredAnswer | undefined> {
    const row = (await trx('idempotency_keys').where({ actor, idem_key: key }).first()) as
      Record<string, unknown> | undefined;
    return row
      ? {
          fingerprint: String(row.fingerprint),
          status: num(row.status),
          body: String(row.body),
          expiresAt: num(row.expires_at),
        }
      : undefined;
  }

  async insert(trx: Trx, actor: string, key: string, answer: StoredAnswer, now: number): Promise<void> {
    await trx('idempotency_keys').insert({
      actor,
      idem_key: key,
      fingerprint: answer.fingerprint,
      status: answer.status,
      body: answer.body,
      created_at: now,
      expires_at: answer.expiresAt,
    });
  }

  /** Keeps the answer of the call that claimed the key. */
  async answer(trx: Trx, actor: string, key: string, status: number, body: string): Promise<void> {
    await trx('idempotency_keys').where({ actor, idem_key: key }).update({ status, body });
  }

  async delete(trx: Trx, actor: string, key: string): Promise<void> {
    await trx('idempotency_keys').where({ actor, idem_key: key }).delete();
  }

  /** Forgets expired keys (indexed by expiry). */
  async deleteExpired(trx: Trx, now: number): Promise<void> {
    await trx('idempotency_keys').where('expires_at', '<', now).delete();
  }
}
