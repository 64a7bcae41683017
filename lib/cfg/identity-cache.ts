import { LRUCache } from 'lru-cache';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';

/** How to read a token or user when the cache misses (the database now; L2 then the database in a cluster). */
export interface IdentitySource {
  /** `fresh`: skip any shared cache and read the database. */
  tokenByHash(keyHash: string, fresh?: boolean): Promise<TokenRecord | undefined>;
  userById(id: number, fresh?: boolean): Promise<UserRecord | undefined>;
}

/**
 * L1 for tokens (by key hash) and users (by id): bounded LRUs with a maximum TTL, plus a short
 * negative cache for unknown keys so a client hammering with a wrong key does not reach the
 * database each time.
 *
 * Fills are guarded twice: a read that started before an invalidation is not stored (the
 * generation moved on), and a value older than the newest version this node was told of for that
 * token or user (a "floor", kept for a while after each change) is re-read from the database, so
 * a stale shared cache can never bring back what a change removed.
 */
export class IdentityCache {
  private readonly tokens: LRUCache<string, TokenRecord>;
  private readonly users: LRUCache<number, UserRecord>;
  private readonly unknown: LRUCache<string, true>;
  private readonly hashById = new Map<number, string>();
  private readonly tokenFloor: LRUCache<number, number>;
  private readonly userFloor: LRUCache<number, number>;
  private generation = 0;

  constructor(
    private readonly source: IdentitySource,
    opts: { size: number; ttlMs: number; negativeTtlMs?: number; floorTtlMs?: number },
  ) {
    const floors = { max: opts.size, ttl: opts.floorTtlMs ?? 120_000 };
    this.tokenFloor = new LRUCache(floors);
    this.userFloor = new LRUCache(floors);
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
    let row = await this.source.tokenByHash(keyHash);
    if (row && row.version < (this.tokenFloor.get(row.id) ?? 0))
      row = await this.source.tokenByHash(keyHash, true);
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
    let row = await this.source.userById(id);
    if (row && row.version < (this.userFloor.get(id) ?? 0)) row = await this.source.userById(id, true);
    if (row && gen === this.generation) this.users.set(id, row);
    return row;
  }

  /** A token changed (created, edited or deleted): drop it, and every negative entry (it may be new). */
  invalidateToken(id: number, version = 0): void {
    this.generation++;
    if (version > (this.tokenFloor.get(id) ?? 0)) this.tokenFloor.set(id, version);
    const hash = this.hashById.get(id);
    if (hash !== undefined) this.tokens.delete(hash);
    this.hashById.delete(id);
    this.unknown.clear();
  }

  invalidateUser(id: number, version = 0): void {
    this.generation++;
    if (version > (this.userFloor.get(id) ?? 0)) this.userFloor.set(id, version);
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
