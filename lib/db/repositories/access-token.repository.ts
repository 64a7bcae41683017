import { num, numOrNull } from '../json-column.js';
import type { Db } from '../knex.js';

/** An admin API credential of one user. Only the SHA-256 of the token is stored. */
export interface AccessTokenRecord {
  id: number;
  userId: number;
  name: string;
  tokenHash: string;
  tokenPrefix: string;
  createdAt: number;
  lastUsedAt: number | null;
}

function toRecord(r: Record<string, unknown>): AccessTokenRecord {
  return {
    id: num(r.id),
    userId: num(r.user_id),
    name: String(r.name),
    tokenHash: String(r.token_hash),
    tokenPrefix: String(r.token_prefix),
    createdAt: num(r.created_at),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

/**
 * The only code that queries `access_tokens`. Admin credentials are read from the database on
 * each admin request (admin traffic is light), so a revoked one stops working at once on every node.
 */
export class AccessTokenRepository {
  constructor(private readonly db: Db) {}

  async findByHash(tokenHash: string): Promise<AccessTokenRecord | undefined> {
    const row = await this.db('access_tokens').where({ token_hash: tokenHash }).first();
    return row ? toRecord(row) : undefined;
  }

  async listOfUser(userId: number): Promise<AccessTokenRecord[]> {
    return (await this.db('access_tokens').where({ user_id: userId }).orderBy('id')).map(toRecord);
  }

  async insert(values: {
    userId: number;
    name: string;
    tokenHash: string;
    tokenPrefix: string;
  }): Promise<AccessTokenRecord> {
    const now = Date.now();
    const [id] = await this.db('access_tokens').insert({
      user_id: values.userId,
      name: values.name,
      token_hash: values.tokenHash,
      token_prefix: values.tokenPrefix,
      created_at: now,
    });
    return { id: num(id), ...values, createdAt: now, lastUsedAt: null };
  }

  async delete(userId: number, id: number): Promise<boolean> {
    return (await this.db('access_tokens').where({ id, user_id: userId }).delete()) > 0;
  }

  async touch(id: number, at: number): Promise<void> {
    await this.db('access_tokens').where({ id }).update({ last_used_at: at });
  }
}
