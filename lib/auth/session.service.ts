import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionRecord, SessionRepository } from '../db/repositories/session.repository.js';
import type { UserRecord, UserRepository } from '../db/repositories/user.repository.js';

export interface SessionOptions {
  /** A session unused for this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, however much it is used. */
  maxAgeMs: number;
}

/** A new session: `cookie` is the only copy of its id (the database keeps its hash). */
export interface IssuedSession {
  cookie: string;
  session: SessionRecord;
}

/** How long a recorded use stays good enough: the idle expiry is only as exact as this. */
const TOUCH_EVERY_MS = 60_000;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * Console sessions, kept in the `sessions` table that every node reads: a session made on one
 * node works on any other, and a revocation anywhere holds everywhere at the next request.
 * The last use is written coarsely (at most once a minute per session, or a quarter of the idle
 * timeout when that is shorter), by whichever node served the request; the write is a plain
 * row update on the shared database, so replicas do it without the master.
 */
export class SessionService {
  private readonly touchEveryMs: number;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly users: UserRepository,
    private readonly opts: SessionOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.touchEveryMs = Math.min(TOUCH_EVERY_MS, Math.floor(opts.idleMs / 4));
  }

  get maxAgeMs(): number {
    return this.opts.maxAgeMs;
  }

  async create(
    userId: number,
    via: 'password' | 'access_token',
    meta: { ip?: string; userAgent?: string },
  ): Promise<IssuedSession> {
    const now = this.clock();
    // Sessions of the user that have ended are dropped here, so the table does not grow.
    await this.sessions.deleteEndedOf(userId, now, this.opts.idleMs);
    const cookie = randomBytes(32).toString('base64url');
    const session = await this.sessions.insert({
      idHash: sha256(cookie),
      userId,
      csrfToken: randomBytes(32).toString('base64url'),
      via,
      ip: meta.ip?.slice(0, 64) ?? null,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.opts.maxAgeMs,
    });
    return { cookie, session };
  }

  /**
   * The live session a cookie names and its (enabled) user; undefined when there is none, it
   * was revoked, it expired (idle or absolute), or its user is disabled or gone.
   */
  async resolve(cookie: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(cookie)) return undefined;
    const session = await this.sessions.findByHash(sha256(cookie));
    const now = this.clock();
    if (!session || session.revokedAt !== null) return undefined;
    if (now >= session.expiresAt || now >= session.lastSeenAt + this.opts.idleMs) return undefined;
    const user = await this.users.findById(session.userId);
    if (!user || user.status !== 'enabled') return undefined;
    if (now - session.lastSeenAt >= this.touchEveryMs) {
      await this.sessions.touch(session.id, now);
      session.lastSeenAt = now;
    }
    return { session, user };
  }

  async revoke(sessionId: number): Promise<void> {
    await this.sessions.revoke(sessionId, this.clock());
  }

  /** Ends every session of the user (password or role change, disable); returns how many. */
  async revokeUser(userId: number): Promise<number> {
    return this.sessions.revokeUser(userId, this.clock());
  }
}

/** Constant-time check of a CSRF token against the session's. */
export function sameCsrfToken(session: SessionRecord, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
