import type { Logger } from 'pino';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import { InsufficientQuotaError } from '../errors/insufficient-quota.error.js';

/**
 * Token quota on a single node: the remaining balance is read from the database once and kept
 * in memory, decreased by each charge, and every charge is written to the database as an atomic
 * relative update (never a read-modify-write). A config change to the token (a new quota) drops
 * the memory copy. Balances are not config: they never go through the versioned path.
 */
export class QuotaLedger {
  private readonly remaining = new Map<number, number | null>();
  private generation = 0;

  constructor(
    private readonly tokens: TokenRepository,
    private readonly logger: Logger,
  ) {}

  /** Throws 429 insufficient_quota when the token has no quota left. */
  async check(tokenId: number): Promise<void> {
    const left = await this.remainingOf(tokenId);
    if (left !== null && left <= 0) {
      throw new InsufficientQuotaError('You exceeded your current quota: this API key has no quota left');
    }
  }

  async remainingOf(tokenId: number): Promise<number | null> {
    if (this.remaining.has(tokenId)) return this.remaining.get(tokenId)!;
    const gen = this.generation;
    const row = await this.tokens.quotaOf(tokenId);
    const value = row?.quota ?? null;
    if (gen === this.generation && row) this.remaining.set(tokenId, value);
    return value;
  }

  /** Charges `amount` units; written through to the database. */
  async charge(tokenId: number, amount: number): Promise<void> {
    if (amount <= 0) return;
    const left = this.remaining.get(tokenId);
    if (left !== undefined && left !== null) this.remaining.set(tokenId, left - amount);
    try {
      await this.tokens.charge(tokenId, amount);
    } catch (err) {
      this.logger.error({ err, tokenId, amount }, 'quota charge was not written');
      this.invalidate(tokenId);
    }
  }

  /** Forgets the memory copy of one token (null: of every token). */
  invalidate(tokenId: number | null): void {
    this.generation++;
    if (tokenId === null) this.remaining.clear();
    else this.remaining.delete(tokenId);
  }
}
