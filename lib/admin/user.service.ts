import { IdempotencyKeyRepository } from '../db/repositories/idempotency-key.repository.js';
import { IdempotentWrites, type IdempotencyClaim } from './idempotent-writes.js';
import type { BalanceService } from '../billing/balance.service.js';
import type { VersionedWriter } from '../cfg/versioned-writer.js';
import type { AccessTokenRecord, AccessTokenRepository } from '../db/repositories/access-token.repository.js';
import type { UserRecord, UserRepository, UserValues } from '../db/repositories/user.repository.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { ConflictError } from '../errors/conflict.error.js';
import { NotFoundError } from '../errors/not-found.error.js';
import { AuthenticationError } from '../errors/authentication.error.js';
import { generateKey, hashKey, keyPrefix } from '../security/keys.js';
import type { PasswordHasher } from '../security/passwords.js';
import type { SetPasswordInput } from './auth.schemas.js';
import { isAdmin, requireManages, requireMayGrant, requireRole, type Actor } from './actor.js';
import type { CreateUserInput, ListUsersInput, UpdateUserInput } from './user.schemas.js';
import { iso, renameFields } from './validation.js';

export function userView(u: UserRecord) {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    group: u.group,
    quota: u.quota,
    used_quota: u.usedQuota,
    status: u.status,
    rpm_limit: u.rpmLimit,
    tpm_limit: u.tpmLimit,
    version: u.version,
    created_at: iso(u.createdAt),
    updated_at: iso(u.updatedAt),
  };
}

export function accessTokenView(t: AccessTokenRecord) {
  return {
    id: t.id,
    user_id: t.userId,
    name: t.name,
    token_prefix: t.tokenPrefix,
    created_at: iso(t.createdAt),
    last_used_at: iso(t.lastUsedAt),
  };
}

/** Rolls back a bootstrap that another process won. */
class AlreadyBootstrapped extends ConflictError {
  constructor() {
    super('The root user already exists');
  }
}

/** Ends a user's console sessions (password or role change, disable). */
export interface SessionRevoker {
  revokeUser(userId: number): Promise<number>;
}

const notFound = (id: number) => new NotFoundError(`No user with id ${id}`, { param: 'id' });

/** Users and their admin API access tokens. */
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly accessTokens: AccessTokenRepository,
    private readonly writer: VersionedWriter,
    private readonly balances: BalanceService,
    private readonly passwords: PasswordHasher,
    private readonly sessions: SessionRevoker,
    /** Money-moving calls sent with an Idempotency-Key run once per key. */
    private readonly once: IdempotentWrites = new IdempotentWrites(new IdempotencyKeyRepository()),
  ) {}

  async list(actor: Actor, f: ListUsersInput) {
    requireRole(actor, 'admin');
    const { rows, total } = await this.users.list({ ...f, perPage: f.per_page });
    const withPassword = await this.users.withPassword(rows.map((r) => r.id));
    return { data: rows.map((r) => ({ ...userView(r), has_password: withPassword.has(r.id) })), total };
  }

  async get(actor: Actor, id: number) {
    const user = await this.visible(actor, id);
    return { ...userView(user), has_password: (await this.users.withPassword([id])).has(id) };
  }

  async create(actor: Actor, input: CreateUserInput) {
    requireRole(actor, 'admin');
    requireMayGrant(actor, input.role);
    if (input.password !== undefined) this.passwords.check(input.password);
    const hash = input.password === undefined ? null : await this.passwords.hash(input.password);
    return this.insert(input, hash);
  }

  /**
   * Sets a user's console password. An admin sets the password of a user it manages; anyone sets
   * its own, giving `current_password` when it has one. Every session of the user ends.
   */
  async setPassword(actor: Actor, id: number, input: SetPasswordInput): Promise<{ sessionsRevoked: number }> {
    const target = await this.visible(actor, id);
    if (target.id === actor.userId) {
      const stored = await this.users.passwordHashOf(id);
      if (stored) {
        if (input.current_password === undefined)
          throw new BadRequestError('current_password: give your current password to change it', {
            param: 'current_password',
          });
        if (!(await this.passwords.verify(stored, input.current_password)))
          throw new AuthenticationError('current_password is wrong', { code: 'invalid_credentials' });
      }
    } else {
      requireRole(actor, 'admin');
      requireManages(actor, target);
    }
    const hash = await this.passwords.hash(input.password);
    if (!(await this.users.setPasswordHash(id, hash))) throw notFound(id);
    return { sessionsRevoked: await this.sessions.revokeUser(id) };
  }

  /** Creates the first root user when the database has no user at all; undefined when one exists. */
  async bootstrapRoot(): Promise<UserRecord | undefined> {
    if ((await this.users.count()) > 0) return undefined;
    try {
      return await this.writer.write('user', async (trx, version) => {
        // Re-checked under the config lock: of two first starts at once, one creates root.
        if ((await this.users.count(trx)) > 0) throw new AlreadyBootstrapped();
        const values: UserValues = {
          username: 'root',
          role: 'root',
          group: 'default',
          quota: null,
          status: 'enabled',
          rpmLimit: null,
          tpmLimit: null,
        };
        const id = await this.users.insert(trx, values, version);
        const row = await this.users.findById(id, trx);
        return { entityId: id, op: 'upsert', result: row, record: row };
      });
    } catch (err) {
      if (err instanceof AlreadyBootstrapped) return undefined; // rolled back: no version used
      throw err;
    }
  }

  /** `requestId`: the admin request's, for the usage log row a quota change writes. */
  async update(actor: Actor, id: number, input: UpdateUserInput, requestId = '', claim?: IdempotencyClaim) {
    requireRole(actor, 'admin');
    const target = await this.visible(actor, id);
    requireManages(actor, target);
    if (input.role !== undefined) requireMayGrant(actor, input.role);
    if (target.id === actor.userId && (input.role !== undefined || input.status === 'disabled')) {
      throw new BadRequestError('You cannot change your own role or disable yourself', {
        param: input.role ? 'role' : 'status',
      });
    }
    const { answer: view, extra: change } = await this.once.once(
      this.writer,
      'user',
      claim,
      async (trx, version) => {
        if (!(await this.users.findById(id, trx))) throw notFound(id);
        const change = await this.balances.quotaEdit(trx, 'user', id, input.quota, {
          username: actor.username,
          requestId,
        });
        await this.users.update(trx, id, userValues(input), version);
        const row = (await this.users.findById(id, trx))!;
        return { entityId: id, record: row, answer: userView(row), extra: change };
      },
    );
    await this.balances.apply(change);
    // A new role (or a disabled user) must not keep the rights of a session signed in before.
    if ((input.role !== undefined && input.role !== target.role) || input.status === 'disabled')
      await this.sessions.revokeUser(id);
    return view;
  }

  /** A top-up (or correction) of a user's quota. */
  async adjustQuota(
    actor: Actor,
    id: number,
    delta: number,
    note: string | undefined,
    requestId: string,
    claim?: IdempotencyClaim,
  ) {
    requireRole(actor, 'admin');
    requireManages(actor, await this.visible(actor, id));
    return this.balances.adjust(
      'user',
      id,
      delta,
      { username: actor.username, requestId },
      note,
      this.once.guard(claim),
    );
  }

  async delete(actor: Actor, id: number): Promise<void> {
    requireRole(actor, 'admin');
    const target = await this.visible(actor, id);
    requireManages(actor, target);
    if (target.id === actor.userId) throw new BadRequestError('You cannot delete yourself', { param: 'id' });
    await this.writer.write('user', async (trx) => {
      const row = await this.users.findById(id, trx);
      if (!row || !(await this.users.delete(trx, id))) throw notFound(id);
      return { entityId: id, op: 'delete', result: undefined, record: row };
    });
  }

  async listAccessTokens(actor: Actor, userId: number) {
    const target = await this.visible(actor, userId);
    if (target.id !== actor.userId) requireManages(actor, target);
    return { data: (await this.accessTokens.listOfUser(userId)).map(accessTokenView) };
  }

  /** A new admin API token for a user; the answer's `token` is the only time it is shown. */
  async createAccessToken(actor: Actor, userId: number, name: string) {
    const target = await this.visible(actor, userId);
    if (target.id !== actor.userId) requireManages(actor, target);
    return this.issueAccessToken(userId, name);
  }

  async issueAccessToken(userId: number, name: string) {
    const token = generateKey('sya-');
    const row = await this.accessTokens.insert({
      userId,
      name,
      tokenHash: hashKey(token),
      tokenPrefix: keyPrefix(token),
    });
    return { ...accessTokenView(row), token };
  }

  async deleteAccessToken(actor: Actor, userId: number, id: number): Promise<void> {
    const target = await this.visible(actor, userId);
    if (target.id !== actor.userId) requireManages(actor, target);
    if (!(await this.accessTokens.delete(userId, id)))
      throw new NotFoundError(`No access token with id ${id}`, { param: 'id' });
  }

  private async insert(input: CreateUserInput, passwordHash: string | null) {
    return this.writer.write('user', async (trx, version) => {
      const id = await this.users.insert(trx, userValues(input) as UserValues, version);
      if (passwordHash) await this.users.setPasswordHash(id, passwordHash, trx);
      const row = (await this.users.findById(id, trx))!;
      return { entityId: id, op: 'upsert', result: userView(row), record: row };
    });
  }

  private async visible(actor: Actor, id: number): Promise<UserRecord> {
    const user = await this.users.findById(id);
    if (!user || (!isAdmin(actor) && user.id !== actor.userId)) throw notFound(id);
    return user;
  }
}

/** The stored fields of an API input (the API's names → the repository's). */
function userValues(input: UpdateUserInput): Partial<UserValues> {
  const { username, role, group, quota, status, rpm_limit, tpm_limit } = input;
  return renameFields(
    { username, role, group, quota, status, rpm_limit, tpm_limit },
    { rpm_limit: 'rpmLimit', tpm_limit: 'tpmLimit' },
  );
}
