import { LRUCache } from 'lru-cache';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';

/** How to read a token or user when the cache misses (the database now; L2 then the database in a cluster). */
export interface IdentitySource {
  tokenByHash(keyHash: string): Promise<TokenRecord | undefined>;
  userById(id: number): Promise<UserRecord | undefined>;
}

/**
 * L1 for tokens (by key hash) and users (by id): bounded LRUs with a maximum TTL, plus a short
 * negative cache for unknown keys so a client hammering with a wrong key does not reach the
 * database each time.
 *
 * Fills are guarded: a read that started before an invalidation is not stored (the generation
 * moved on), so a slow read can never put back a value older than a change already applied.
 */
export class IdentityCache {
  private readonly tokens: LRUCache<string, TokenRecord>;
  private readonly users: LRUCache<number, UserRecord>;
  private readonly unknown: LRUCache<string, true>;
  private readonly hashById = new Map<number, string>();
  private generation = 0;

  constructor(
    private readonly source: IdentitySource,
    opts: { size: number; ttlMs: number; negativeTtlMs?: number },
  ) {
    this.tokens = new LRUCache({
      max: opts.size,
      ttl: opts.ttlMs,
      dispose: (value, hash) => {
        if (this.hashById.get(value.id) === hash) this.hashById.delete(value.id);
      },
    });
    this.users = new LRUCache({ max: opts.size, ttl: opts.ttlMs });
    this.unknown = new LRUCache({ max: Math.min(opts.size, 10_000), ttl: opts.negativeTtlMs ?? 5_000 });
  }

  async token(keyHash: string): Promise<TokenRecord | undefined> {
    const hit = this.tokens.get(keyHash);
    if (hit) return hit;
    if (this.unknown.has(keyHash)) return undefined;
    const gen = this.generation;
    const row = await this.source.tokenByHash(keyHash);
    if (gen === this.generation) {
      if (row) {
        this.tokens.set(keyHash, row);
        this.hashById.set(row.id, keyHash);
      } else {
        this.unknown.set(keyHash, true);
      }
    }
    return row;
  }

  async user(id: number): Promise<UserRecord | undefined> {
    const hit = this.users.get(id);
    if (hit) return hit;
    const gen = this.generation;
    const row = await this.source.userById(id);
    if (row && gen === this.generation) this.users.set(id, row);
    return row;
  }

  /** A token changed (created, edited or deleted): drop it, and every negative entry (it may be new). */
  invalidateToken(id: number): void {
    this.generation++;
    const hash = this.hashById.get(id);
    if (hash !== undefined) this.tokens.delete(hash);
    this.hashById.delete(id);
    this.unknown.clear();
  }

  invalidateUser(id: number): void {
    this.generation++;
    this.users.delete(id);
  }

  clear(): void {
    this.generation++;
    this.tokens.clear();
    this.users.clear();
    this.unknown.clear();
    this.hashById.clear();
  }

  get sizes(): { tokens: number; users: number; unknown: number } {
    return { tokens: this.tokens.size, users: this.users.size, unknown: this.unknown.size };
  }
}
