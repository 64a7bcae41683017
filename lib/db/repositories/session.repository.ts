import type { Knex } from 'knex';
import { num, numOrNull } from '../json-column.js';
import type { Db } from '../knex.js';

/** A console session as stored: the SHA-256 of its id, never the id itself. */
export interface SessionRecord {
  id: number;
  idHash: string;
  userId: number;
  csrfToken: string;
  /** How the user signed in: `password` or `access_token`. */
  via: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

function toRecord(r: Record<string, unknown>): SessionRecord {
  return {
    id: num(r.id),
    idHash: String(r.id_hash),
    userId: num(r.user_id),
    csrfToken: String(r.csrf_token),
    via: String(r.via),
    ip: r.ip == null ? null : String(r.ip),
    userAgent: r.user_agent == null ? null : String(r.user_agent),
    createdAt: num(r.created_at),
    lastSeenAt: num(r.last_seen_at),
    expiresAt: num(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

/** The only code that queries `sessions`. */
export class SessionRepository {
  constructor(private readonly db: Db) {}

  async insert(s: Omit<SessionRecord, 'id' | 'revokedAt'>): Promise<SessionRecord> {
    const [id] = await this.db('sessions').insert({
      id_hash: s.idHash,
      user_id: s.userId,
      csrf_token: s.csrfToken,
      via: s.via,
      ip: s.ip,
      user_agent: s.userAgent,
      created_at: s.createdAt,
      last_seen_at: s.lastSeenAt,
      expires_at: s.expiresAt,
    });
    return { ...s, id: num(id), revokedAt: null };
  }

  async findByHash(idHash: string, q: Knex = this.db): Promise<SessionRecord | undefined> {
    const row = await q('sessions').where({ id_hash: idHash }).first();
    return row ? toRecord(row) : undefined;
  }

  /** Records a use; only ever moves `last_seen_at` forward. */
  async touch(id: number, at: number): Promise<void> {
    await this.db('sessions').where({ id }).where('last_seen_at', '<', at).update({ last_seen_at: at });
  }

  async revoke(id: number, at: number): Promise<void> {
    await this.db('sessions').where({ id }).whereNull('revoked_at').update({ revoked_at: at });
  }

  /** Revokes every live session of the user (but `exceptId`); returns how many. */
  async revokeUser(userId: number, at: number, exceptId?: number): Promise<number> {
    const q = this.db('sessions').where({ user_id: userId }).whereNull('revoked_at');
    if (exceptId !== undefined) q.whereNot('id', exceptId);
    return q.update({ revoked_at: at });
  }

  /** Deletes the user's sessions that have ended (expired, idle past `idleMs`, or revoked); returns how many. */
  async deleteEndedOf(userId: number, now: number, idleMs: number): Promise<number> {
    return this.db('sessions')
      .where({ user_id: userId })
      .where((w) =>
        w
          .where('expires_at', '<=', now)
          .orWhere('last_seen_at', '<=', now - idleMs)
          .orWhereNotNull('revoked_at'),
      )
      .delete();
  }
}
