import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, Trx } from '../db/knex.js';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import { balanceEntry, type UsageLogRepository } from '../db/repositories/usage-log.repository.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { NotFoundError } from '../errors/not-found.error.js';
import type { BalanceOwner, BillingStore, QuotaChange } from './billing-store.js';

/**
 * Makes an adjustment run once per Idempotency-Key (see lib/admin/idempotent-writes.ts): inside
 * its transaction, the answer of an earlier call to return instead, and keeping this one's.
 */
export interface OnceGuard {
  earlier<T>(trx: Trx): Promise<T | undefined>;
  remember(trx: Trx, answer: unknown): Promise<void>;
}

/** Who changed a balance, and in which admin request: written to the usage log. */
export interface AdjustedBy {
  username: string;
  requestId: string;
}

/**
 * Admin changes to stored quotas: a top-up or correction (`adjust`), and a quota set by a
 * token or user edit (`quotaEdit`, inside that edit's transaction). Each one locks the row,
 * computes the delta from what the row holds (charges are relative updates, so none is lost),
 * writes a usage log row, and after commit brings the live balance in line.
 */
export class BalanceService {
  constructor(
    private readonly db: Db,
    private readonly tokens: TokenRepository,
    private readonly users: UserRepository,
    private readonly usage: UsageLogRepository,
    private readonly store: BillingStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Adds `delta` to a limited quota; returns the new stored quota. With `once` (an
   * Idempotency-Key), a call already made with that key is answered as it was, and adds nothing.
   */
  async adjust(
    who: BalanceOwner,
    id: number,
    delta: number,
    by: AdjustedBy,
    note?: string,
    once?: OnceGuard,
  ) {
    const change = await this.db.transaction(async (trx) => {
      const earlier = await once?.earlier<{ quota: number }>(trx);
      if (earlier) return { replay: earlier };
      const row = await this.repo(who).quotaForUpdate(trx, id);
      if (!row) throw new NotFoundError(`No ${who} with id ${id}`, { param: 'id' });
      if (row.quota === null) {
        throw new BadRequestError(
          `This ${who} has unlimited quota: set a quota (PATCH its quota) before adding to it`,
          { param: 'delta' },
        );
      }
      // Balances stay exact integers (2^53) in every store: a delta past that is refused, not rounded.
      if (Math.abs(row.quota + delta) > Number.MAX_SAFE_INTEGER) {
        throw new BadRequestError(
          `This ${who}'s quota would become ${row.quota + delta}, beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1), the largest exact balance`,
          { param: 'delta', code: 'quota_out_of_range' },
        );
      }
      await this.repo(who).addQuota(trx, id, delta);
      const rev = (await this.repo(who).quotasAtRev([id], trx)).get(id)?.rev ?? 0;
      await this.log(trx, who, id, delta > 0 ? 'topup' : 'adjust', delta, by, note);
      await once?.remember(trx, { quota: row.quota + delta });
      return { who, id, quota: row.quota + delta, delta, changeId: randomUUID(), rev } satisfies QuotaChange;
    });
    if ('replay' in change) return change.replay;
    await this.apply(change);
    return { quota: change.quota };
  }

  /**
   * Call inside the transaction of an edit that sets the quota to `quota` (undefined: the edit
   * leaves it alone), before the row is updated; returns the change to {@link apply} after
   * commit (undefined when none).
   */
  async quotaEdit(
    trx: Trx,
    who: BalanceOwner,
    id: number,
    quota: number | null | undefined,
    by: AdjustedBy,
  ): Promise<QuotaChange | undefined> {
    if (quota === undefined) return undefined;
    const row = await this.repo(who).quotaForUpdate(trx, id);
    if (!row || row.quota === quota) return undefined;
    const delta = row.quota !== null && quota !== null ? quota - row.quota : null;
    const rev = await this.repo(who).bumpQuotaRev(trx, id);
    await this.log(trx, who, id, 'adjust', delta ?? 0, by, `quota set to ${quota ?? 'unlimited'}`);
    return { who, id, quota, delta, changeId: randomUUID(), rev };
  }

  /** Brings the live balance in line with a committed change; a failure is logged (the store heals it). */
  async apply(change: QuotaChange | undefined): Promise<void> {
    if (!change) return;
    try {
      await this.store.changeQuota(change);
    } catch (err) {
      this.logger.error(
        { err, who: change.who, id: change.id },
        'live balance not updated after a quota change',
      );
    }
  }

  private repo(who: BalanceOwner): TokenRepository | UserRepository {
    return who === 'token' ? this.tokens : this.users;
  }

  private async log(
    trx: Trx,
    who: BalanceOwner,
    id: number,
    type: 'topup' | 'adjust',
    delta: number,
    by: AdjustedBy,
    note: string | undefined,
  ): Promise<void> {
    const token = who === 'token' ? await this.tokens.findById(id, trx) : undefined;
    await this.usage.insertMany(trx, [
      balanceEntry({
        type,
        requestId: by.requestId,
        userId: token ? token.userId : id,
        tokenId: token ? token.id : null,
        quota: delta,
        note: `${by.username}${note ? `: ${note}` : ''}`.slice(0, 300),
      }),
    ]);
  }
}
