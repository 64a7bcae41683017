import type { AccessTokenRepository } from '../db/repositories/access-token.repository.js';
import type { UserRecord, UserRepository } from '../db/repositories/user.repository.js';
import { AuthenticationError } from '../errors/authentication.error.js';
import { hashKey, sameHash } from '../security/keys.js';
import type { Actor } from './actor.js';

const TOUCH_EVERY_MS = 60_000;

/**
 * Resolves an admin API bearer token to an {@link Actor}: `ADMIN_TOKEN` (root) or a user's access
 * token. Read from the database on each call, so a revoked token or disabled user stops at once.
 */
export class AdminAuthService {
  private readonly adminTokenHash: string | undefined;
  private readonly touched = new Map<number, number>();

  constructor(
    private readonly users: UserRepository,
    private readonly accessTokens: AccessTokenRepository,
    adminToken: string | undefined,
  ) {
    this.adminTokenHash = adminToken ? hashKey(adminToken) : undefined;
  }

  async authenticate(token: string | undefined): Promise<Actor> {
    if (!token)
      throw new AuthenticationError('Missing admin token: send "Authorization: Bearer <admin token>"', {
        code: 'missing_api_key',
      });
    const hash = hashKey(token);
    if (this.adminTokenHash && sameHash(hash, this.adminTokenHash)) {
      const root = (await this.users.list({ page: 1, perPage: 1, role: 'root' })).rows[0];
      if (!root) throw new AuthenticationError('No root user exists yet; restart the gateway to create it');
      return actorOf(root);
    }
    const access = await this.accessTokens.findByHash(hash);
    const user = access ? await this.users.findById(access.userId) : undefined;
    if (!access || !user) throw new AuthenticationError('Invalid admin token');
    if (user.status !== 'enabled')
      throw new AuthenticationError(`User ${user.username} is disabled`, { code: 'user_disabled' });
    const now = Date.now();
    if ((this.touched.get(access.id) ?? 0) + TOUCH_EVERY_MS < now) {
      this.touched.set(access.id, now);
      await this.accessTokens.touch(access.id, now);
    }
    return actorOf(user);
  }
}

function actorOf(u: UserRecord): Actor {
  return { userId: u.id, username: u.username, role: u.role, group: u.group };
}
