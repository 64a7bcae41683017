import type { Logger } from 'pino';
import type { TokenRepository } from '../db/repositories/token.repository.js';
import { InsufficientQuotaError } from '../errors/insufficient-quota.error.js';

/**
 * Token quota. The remaining balance is read from the database and kept in memory for a few
 * seconds (then read again: in a cluster other nodes charge the same token), and each charge
 * lowers it at once (so the next request here sees it). Charges reach
 * the database write-behind: they are summed per token and written in one transaction at most
 * every `flushEveryMs` (and at shutdown), as atomic relative updates — never a
 * read-modify-write. A config change to a token (a new quota) drops its memory copy.
 * Balances are not config: they never go through the versioned path.
 */
export class QuotaLedger {
  private readonly remaining = new Map<number, { value: number | null; readAt: number }>();
  private pending = new Map<number, number>();
  /** The batch being written now: not in the database yet, no longer in `pending`. */
  private writing = new Map<number, number>();
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly tokens: TokenRepository,
    private readonly logger: Logger,
    private readonly flushEveryMs = 50,
    /** How long a balance read from the database is trusted before it is read again (other nodes charge too). */
    private readonly refreshEveryMs = 5_000,
  ) {}

  /** Throws 429 insufficient_quota when the token has no quota left. */
  async check(tokenId: number): Promise<void> {
    const left = await this.remainingOf(tokenId);
    if (left !== null && left <= 0) {
      throw new InsufficientQuotaError('You exceeded your current quota: this API key has no quota left');
    }
  }

  async remainingOf(tokenId: number): Promise<number | null> {
    const known = this.remaining.get(tokenId);
    if (known && known.readAt + this.refreshEveryMs > Date.now()) return known.value;
    const gen = this.generation;
    const row = await this.tokens.quotaOf(tokenId);
    if (!row) return null;
    // What the database shows does not include charges not yet written.
    const unwritten = (this.pending.get(tokenId) ?? 0) + (this.writing.get(tokenId) ?? 0);
    const value = row.quota === null ? null : row.quota - unwritten;
    if (gen === this.generation) this.remaining.set(tokenId, { value, readAt: Date.now() });
    return value;
  }

  /** Charges `amount` units: visible to the next check at once, in the database within `flushEveryMs`. */
  charge(tokenId: number, amount: number): void {
    if (amount <= 0) return;
    const left = this.remaining.get(tokenId);
    if (left && left.value !== null) left.value -= amount;
    this.pending.set(tokenId, (this.pending.get(tokenId) ?? 0) + amount);
    this.timer ??= setTimeout(() => void this.flush(), this.flushEveryMs);
  }

  /** Writes every pending charge now. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.writing = batch;
    this.flushing = this.tokens.chargeMany(batch).catch((err: unknown) => {
      // Kept for the next flush rather than lost; the memory balance already counts them.
      for (const [id, amount] of batch) this.pending.set(id, (this.pending.get(id) ?? 0) + amount);
      this.logger.error({ err, tokens: batch.size }, 'quota charges not written yet; will retry');
      this.timer ??= setTimeout(() => void this.flush(), Math.max(this.flushEveryMs, 1000));
    });
    await this.flushing;
    this.writing = new Map();
    this.flushing = undefined;
  }

  /** Forgets the memory copy of one token (null: of every token). */
  invalidate(tokenId: number | null): void {
    this.generation++;
    if (tokenId === null) this.remaining.clear();
    else this.remaining.delete(tokenId);
  }

  async stop(): Promise<void> {
    await this.flush();
  }
}
