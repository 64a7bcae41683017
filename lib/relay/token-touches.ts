import type { Logger } from 'pino';
import type { TokenRepository } from '../db/repositories/token.repository.js';

/**
 * Records when tokens were last used without a write per request: ids are collected in memory
 * and written in one statement every `everyMs`, and once more at shutdown.
 */
export class TokenTouches {
  private pending = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tokens: TokenRepository,
    private readonly logger: Logger,
    private readonly everyMs = 30_000,
  ) {}

  mark(tokenId: number): void {
    this.pending.add(tokenId);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.everyMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await this.tokens.touch(ids, Date.now());
    } catch (err) {
      this.logger.warn({ err, tokens: ids.length }, 'could not record token use');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
