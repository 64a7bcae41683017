import { IdempotencyKeyRepository } from '../db/repositories/idempotency-key.repository.js';
import { IdempotentWrites, type IdempotencyClaim } from './idempotent-writes.js';
import type { BalanceService } from '../billing/balance.service.js';
import type { VersionedWriter } from '../cfg/versioned-writer.js';
import type { TokenRecord, TokenRepository, TokenValues } from '../db/repositories/token.repository.js';
import type { UserRepository } from '../db/repositories/user.repository.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { NotFoundError } from '../errors/not-found.error.js';
import { PermissionError } from '../errors/permission.error.js';
import { generateKey, hashKey, keyPrefix } from '../security/keys.js';
import { isAdmin, requireRole, type Actor } from './actor.js';
import type { CreateTokenInput, ListTokensInput, UpdateTokenInput } from './token.schemas.js';
import { iso, renameFields } from './validation.js';

/** The API's token fields → the repository's. */
const TOKEN_FIELDS = {
  user_id: 'userId',
  expires_at: 'expiresAt',
  rpm_limit: 'rpmLimit',
  tpm_limit: 'tpmLimit',
} as const;

/** A token as the admin API shows it: the key itself never (only at creation), its prefix always. */
export function tokenView(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    user_id: t.userId,
    group: t.group,
    status: t.status,
    quota: t.quota,
    used_quota: t.usedQuota,
    expires_at: iso(t.expiresAt),
    models: t.models,
    subnets: t.subnets,
    rpm_limit: t.rpmLimit,
    tpm_limit: t.tpmLimit,
    key_prefix: t.keyPrefix,
    version: t.version,
    created_at: iso(t.createdAt),
    updated_at: iso(t.updatedAt),
    accessed_at: iso(t.accessedAt),
  };
}

const notFound = (id: number) => new NotFoundError(`No token with id ${id}`, { param: 'id' });

/** Relay token administration. Admins manage every token; a user only its own, in its own group. */
export class TokenService {
  constructor(
    private readonly tokens: TokenRepository,
    private readonly users: UserRepository,
    private readonly writer: VersionedWriter,
    private readonly balances: BalanceService,
    /** Money-moving calls sent with an Idempotency-Key run once per key. */
    private readonly once: IdempotentWrites = new IdempotentWrites(new IdempotencyKeyRepository()),
  ) {}

  async list(actor: Actor, f: ListTokensInput) {
    const userId = isAdmin(actor) ? f.user_id : actor.userId;
    const { rows, total } = await this.tokens.list({ ...f, perPage: f.per_page, userId });
    return { data: rows.map(tokenView), total };
  }

  async get(actor: Actor, id: number) {
    return tokenView(await this.visible(actor, id));
  }

  /** Creates a token; the answer carries `key`, the only time it is ever shown. */
  async create(actor: Actor, input: CreateTokenInput) {
    const userId = input.user_id ?? actor.userId;
    if (!isAdmin(actor) && userId !== actor.userId)
      throw new PermissionError('You can only create tokens for yourself');
    const owner = await this.users.findById(userId);
    if (!owner) throw new BadRequestError(`user_id: no user with id ${userId}`, { param: 'user_id' });
    const group = input.group ?? owner.group;
    if (!isAdmin(actor) && group !== owner.group) {
      throw new PermissionError(`You can only create tokens in your group (${owner.group})`, {
        param: 'group',
      });
    }
    const key = generateKey('sk-');
    const values: TokenValues = {
      name: input.name,
      userId,
      keyHash: hashKey(key),
      keyPrefix: keyPrefix(key),
      group,
      status: input.status,
      quota: input.quota,
      expiresAt: input.expires_at,
      models: input.models,
      subnets: input.subnets,
      rpmLimit: input.rpm_limit,
      tpmLimit: input.tpm_limit,
    };
    return this.writer.write('token', async (trx, version) => {
      const id = await this.tokens.insert(trx, values, version);
      const row = (await this.tokens.findById(id, trx))!;
      return { entityId: id, op: 'upsert', result: { ...tokenView(row), key }, record: row };
    });
  }

  /** `requestId`: the admin request's, for the usage log row a quota change writes. */
  async update(actor: Actor, id: number, input: UpdateTokenInput, requestId = '', claim?: IdempotencyClaim) {
    const existing = await this.visible(actor, id);
    if (!isAdmin(actor)) {
      if (input.user_id !== undefined && input.user_id !== actor.userId)
        throw new PermissionError('You cannot give a token away');
      if (input.group !== undefined && input.group !== actor.group) {
        throw new PermissionError(`You can only use your group (${actor.group})`, { param: 'group' });
      }
      checkOnlyTightened(existing, input);
    }
    if (
      input.user_id !== undefined &&
      input.user_id !== existing.userId &&
      !(await this.users.findById(input.user_id))
    ) {
      throw new BadRequestError(`user_id: no user with id ${input.user_id}`, { param: 'user_id' });
    }
    const values: Partial<TokenValues> = renameFields(input, TOKEN_FIELDS);
    const { answer: view, extra: change } = await this.once.once(
      this.writer,
      'token',
      claim,
      async (trx, version) => {
        if (!(await this.tokens.findById(id, trx))) throw notFound(id);
        const change = await this.balances.quotaEdit(trx, 'token', id, input.quota, {
          username: actor.username,
          requestId,
        });
        await this.tokens.update(trx, id, values, version);
        const row = (await this.tokens.findById(id, trx))!;
        return { entityId: id, record: row, answer: tokenView(row), extra: change };
      },
    );
    await this.balances.apply(change);
    return view;
  }

  /** A top-up (or correction) of a token's quota; admins only. */
  async adjustQuota(
    actor: Actor,
    id: number,
    delta: number,
    note: string | undefined,
    requestId: string,
    claim?: IdempotencyClaim,
  ) {
    requireRole(actor, 'admin');
    return this.balances.adjust(
      'token',
      id,
      delta,
      { username: actor.username, requestId },
      note,
      this.once.guard(claim),
    );
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await this.visible(actor, id);
    await this.writer.write('token', async (trx) => {
      const row = await this.tokens.findById(id, trx);
      if (!row || !(await this.tokens.delete(trx, id))) throw notFound(id);
      return { entityId: id, op: 'delete', result: undefined, record: row };
    });
  }

  /** The token, when the actor may see it; 404 otherwise (a user does not learn others' ids exist). */
  private async visible(actor: Actor, id: number): Promise<TokenRecord> {
    const token = await this.tokens.findById(id);
    if (!token || (!isAdmin(actor) && token.userId !== actor.userId)) throw notFound(id);
    return token;
  }
}

/** Is the limit `next` at least as strict as `current` (null: no limit)? */
function noLooser(current: number | null, next: number | null): boolean {
  return next === current || (next !== null && (current === null || next <= current));
}

/** Is the allow-list `next` within `current` (null: everything allowed)? */
function within(current: string[] | null, next: string[] | null): boolean {
  if (next === null) return current === null;
  return current === null || next.every((v) => current.includes(v));
}

/**
 * A user may tighten the limits on its own tokens, never loosen them: an admin may have set
 * them, and a token's owner must not undo an operator's limit. Lower quota, rpm_limit,
 * tpm_limit or expires_at; a subset of models or subnets (entries as written). Loosening is an
 * admin's (403 limit_only_tightened, naming the field).
 */
function checkOnlyTightened(existing: TokenRecord, input: UpdateTokenInput): void {
  const looser: [string, boolean][] = [
    ['quota', input.quota !== undefined && !noLooser(existing.quota, input.quota)],
    ['rpm_limit', input.rpm_limit !== undefined && !noLooser(existing.rpmLimit, input.rpm_limit)],
    ['tpm_limit', input.tpm_limit !== undefined && !noLooser(existing.tpmLimit, input.tpm_limit)],
    ['expires_at', input.expires_at !== undefined && !noLooser(existing.expiresAt, input.expires_at)],
    ['models', input.models !== undefined && !within(existing.models, input.models)],
    ['subnets', input.subnets !== undefined && !within(existing.subnets, input.subnets)],
  ];
  const field = looser.find(([, loosened]) => loosened)?.[0];
  if (field) {
    throw new PermissionError(
      `Only an admin can loosen ${field} on a token: you may lower or narrow it, not raise or remove it`,
      { param: field, code: 'limit_only_tightened' },
    );
  }
}
