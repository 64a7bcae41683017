import type { Db } from '../db/knex.js';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import type { UsageLogRepository } from '../db/repositories/usage-log.repository.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import type { BalanceCharge } from '../db/query-helpers.js';
import type { ChargeEntry } from './billing-store.js';

/**
 * Writes settled charges to the database: the usage rows and the token and user balances, in
 * one transaction. Idempotent: a charge whose id is already in `usage_logs` is skipped, so a
 * batch written twice (a replayed flush, two flushers at once) charges once.
 */
export class ChargeLedger {
  constructor(
    private readonly db: Db,
    private readonly usage: UsageLogRepository,
    private readonly tokens: TokenRepository,
    private readonly users: UserRepository,
  ) {}

  /** Returns how many charges were new. */
  async apply(entries: ChargeEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    return this.db.transaction(async (trx) => {
      const seen = await this.usage.existing(
        trx,
        entries.map((e) => e.usage.chargeId),
      );
      const fresh: ChargeEntry[] = [];
      for (const e of entries) {
        if (seen.has(e.usage.chargeId)) continue;
        seen.add(e.usage.chargeId);
        fresh.push(e);
      }
      const tokens = new Map<number, BalanceCharge>();
      const users = new Map<number, BalanceCharge>();
      for (const e of fresh) {
        const q = e.usage.quota;
        if (q === 0) continue;
        if (e.usage.tokenId !== null) add(tokens, e.usage.tokenId, q, e.tokenLimited);
        add(users, e.usage.userId, q, e.userLimited);
      }
      await this.usage.insertMany(
        trx,
        fresh.map((e) => e.usage),
      );
      await this.tokens.charge(trx, tokens);
      await this.users.charge(trx, users);
      return fresh.length;
    });
  }
}

function add(map: Map<number, BalanceCharge>, id: number, quota: number, limited: boolean): void {
  const c = map.get(id) ?? { used: 0, deduct: 0 };
  c.used += quota;
  if (limited) c.deduct += quota;
  map.set(id, c);
}
