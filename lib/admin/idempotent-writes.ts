import type { ConfigRecord, VersionedWriter } from '../cfg/versioned-writer.js';
import type { ConfigKind } from '../db/repositories/config-state.repository.js';
import { createHash } from 'node:crypto';
import type { Trx } from '../db/knex.js';
import type { IdempotencyKeyRepository } from '../db/repositories/idempotency-key.repository.js';
import type { OnceGuard } from '../billing/balance.service.js';
import { isUniqueViolation } from '../db/db-errors.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { IdempotencyKeyReusedError } from '../errors/idempotency-key-reused.error.js';
import type { Actor } from './actor.js';

/** How long an Idempotency-Key's answer is kept (a retry after this runs the call again). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3_600_000;

/**
 * One money-moving admin call sent with an `Idempotency-Key`: the key, scoped to the actor, and
 * a fingerprint of the call (method, path, body), so the same key with another call is refused.
 * `replayed` is set when the call was answered from an earlier one.
 */
export interface IdempotencyClaim {
  actor: string;
  key: string;
  fingerprint: string;
  replayed?: boolean;
}

/** Reads the `Idempotency-Key` header of a call (undefined: none); a malformed one is a 400. */
export function claimOf(
  header: string | string[] | undefined,
  actor: Actor,
  call: { method: string; originalUrl: string; body: unknown },
): IdempotencyClaim | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (!key || key.length > 128 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new BadRequestError('Idempotency-Key must be 1 to 128 printable ASCII characters without spaces', {
      param: 'Idempotency-Key',
      code: 'invalid_idempotency_key',
    });
  }
  const fingerprint = createHash('sha256')
    .update(`${call.method} ${call.originalUrl} ${JSON.stringify(call.body ?? null)}`)
    .digest('hex');
  return { actor: `${actor.userId}:${actor.username}`.slice(0, 128), key, fingerprint };
}

/**
 * Runs a money-moving admin write at most once per key: inside the write's own transaction,
 * {@link earlier} finds the answer of an earlier call with the key (the write then does
 * nothing), and {@link remember} keeps this call's answer. The key commits or rolls back with the
 * write, so a retry after a timeout is applied exactly once whatever became of the first call;
 * of two calls with the same key at once, the second waits for the first to commit, then replays.
 */
export class IdempotentWrites {
  constructor(
    private readonly keys: IdempotencyKeyRepository,
    private readonly ttlMs = IDEMPOTENCY_KEY_TTL_MS,
  ) {}

  /**
   * Claims the key first (its row, inserted now, is locked until this transaction ends: a call
   * with the same key at the same time waits for it, then finds the answer). Returns the kept
   * answer of an earlier call with this key (then `claim.replayed` is set), or undefined.
   */
  async earlier<T>(trx: Trx, claim: IdempotencyClaim | undefined): Promise<T | undefined> {
    if (!claim) return undefined;
    const now = Date.now();
    const pending = { fingerprint: claim.fingerprint, status: 0, body: 'null', expiresAt: now + this.ttlMs };
    try {
      await this.keys.insert(trx, claim.actor, claim.key, pending, now);
      return undefined;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const kept = await this.keys.find(trx, claim.actor, claim.key);
    if (!kept || kept.expiresAt <= now) {
      // Expired: the key is this call's now.
      await this.keys.delete(trx, claim.actor, claim.key);
      await this.keys.insert(trx, claim.actor, claim.key, pending, now);
      return undefined;
    }
    if (kept.fingerprint !== claim.fingerprint) {
      throw new IdempotencyKeyReusedError(
        'This Idempotency-Key was used for another call (another path or body): use a new key for a new call',
      );
    }
    claim.replayed = true;
    return JSON.parse(kept.body) as T;
  }

  /** Keeps `answer` as the key's (claimed by {@link earlier}), in the same transaction. */
  async remember(trx: Trx, claim: IdempotencyClaim | undefined, answer: unknown): Promise<void> {
    if (!claim) return;
    await this.keys.deleteExpired(trx, Date.now());
    await this.keys.answer(trx, claim.actor, claim.key, 200, JSON.stringify(answer));
  }

  /**
   * A versioned write run once per key: `write` (inside the writer's transaction) makes the
   * answer; a retry with the same key gets the kept answer instead, and its transaction rolls
   * back (nothing changes, no version is used). `extra` is what the caller needs beside the
   * answer (undefined on a replay).
   */
  async once<A, X>(
    writer: VersionedWriter,
    kind: ConfigKind,
    claim: IdempotencyClaim | undefined,
    write: (
      trx: Trx,
      version: number,
    ) => Promise<{ entityId: number; record: ConfigRecord; answer: A; extra: X }>,
  ): Promise<{ answer: A; extra: X | undefined }> {
    return writer
      .write(kind, async (trx, version) => {
        const earlier = await this.earlier<A>(trx, claim);
        if (earlier) throw new Replay(earlier);
        const { entityId, record, answer, extra } = await write(trx, version);
        await this.remember(trx, claim, answer);
        return { entityId, op: 'upsert', record, result: { answer, extra: extra as X | undefined } };
      })
      .catch((err: unknown) => {
        if (err instanceof Replay) return { answer: err.answer as A, extra: undefined };
        throw err;
      });
  }

  /** The claim as a guard for BalanceService (none: no key sent). */
  guard(claim: IdempotencyClaim | undefined): OnceGuard | undefined {
    if (!claim) return undefined;
    return {
      earlier: <T>(trx: Trx) => this.earlier<T>(trx, claim),
      remember: (trx: Trx, answer: unknown) => this.remember(trx, claim, answer),
    };
  }
}

/** Thrown inside a versioned write to roll it back and answer as an earlier call with the key did. */
export class Replay extends Error {
  constructor(readonly answer: unknown) {
    super('answered from an earlier call with the same Idempotency-Key');
  }
}
